#include "textflag.h"

// handler is called by the kernel as void handler(int sig), on the
// alternate signal stack with every signal blocked, with the link register
// pointing at restorer. It writes the signal number as one byte to writeFD
// and returns; the registers it changes are restored by rt_sigreturn. It
// touches nothing of the Go runtime.
//
// It writes only when it runs in ownPID. A child the runtime has forked
// (sharing this process's memory until it execs) keeps the handler until
// its exec for the signals the runtime does not reset there (SIGTSTP,
// SIGTTIN, SIGTTOU, SIGCONT, 32, 34): a signal sent to the child then is
// the child's. The handler gives it the default action, as the runtime's
// reset would have: it sets SIG_DFL and sends the signal again to its own
// thread, where it arrives once the handler returns and unblocks it.
TEXT ·handler(SB),NOSPLIT|NOFRAME,$0-0
	MOVD	R0, R9	// the signal; system calls keep R9
	MOVD	$172, R8	// SYS_getpid
	SVC
	MOVW	·ownPID(SB), R10
	CMPW	R10, R0
	BNE	child
	SUB	$16, RSP
	MOVB	R9, (RSP)
	MOVW	·writeFD(SB), R0
	MOVD	RSP, R1
	MOVD	$1, R2
	MOVD	$64, R8	// SYS_write
	SVC
	ADD	$16, RSP
	RET
child:
	MOVD	R0, R11	// the child's pid
	SUB	$32, RSP	// struct sigaction, all zero: SIG_DFL
	MOVD	ZR, 0(RSP)
	MOVD	ZR, 8(RSP)
	MOVD	ZR, 16(RSP)
	MOVD	ZR, 24(RSP)
	MOVD	R9, R0
	MOVD	RSP, R1
	MOVD	$0, R2
	MOVD	$8, R3
	MOVD	$134, R8	// SYS_rt_sigaction(sig, &act, NULL, 8)
	SVC
	ADD	$32, RSP
	MOVD	$178, R8	// SYS_gettid
	SVC
	MOVD	R0, R1
	MOVD	R11, R0
	MOVD	R9, R2
	MOVD	$131, R8	// SYS_tgkill(pid, tid, sig)
	SVC
	RET

// restorer is where handler returns to: it ends the signal delivery.
TEXT ·restorer(SB),NOSPLIT|NOFRAME,$0-0
	MOVD	$139, R8	// SYS_rt_sigreturn
	SVC

TEXT ·handlerPC(SB),NOSPLIT,$0-8
	MOVD	$·handler(SB), R0
	MOVD	R0, ret+0(FP)
	RET

TEXT ·restorerPC(SB),NOSPLIT,$0-8
	MOVD	$·restorer(SB), R0
	MOVD	R0, ret+0(FP)
	RET
