#include "textflag.h"

// handler is called by the kernel as void handler(int sig), on the
// alternate signal stack with every signal blocked. It writes the signal
// number as one byte to writeFD and returns; the registers it changes are
// restored by rt_sigreturn. It touches nothing of the Go runtime.
//
// It writes only when it runs in ownPID. A child the runtime has forked
// (sharing this process's memory until it execs) keeps the handler until
// its exec for the signals the runtime does not reset there (SIGTSTP,
// SIGTTIN, SIGTTOU, SIGCONT, 32, 34): a signal sent to the child then is
// the child's. The handler gives it the default action, as the runtime's
// reset would have: it sets SIG_DFL and sends the signal again to its own
// thread, where it arrives once the handler returns and unblocks it.
TEXT ·handler(SB),NOSPLIT|NOFRAME,$0-0
	MOVQ	$39, AX	// SYS_getpid; the kernel keeps DI
	SYSCALL
	CMPL	AX, ·ownPID(SB)
	JNE	child
	SUBQ	$16, SP
	MOVB	DI, 0(SP)
	MOVLQSX	·writeFD(SB), DI
	MOVQ	SP, SI
	MOVQ	$1, DX
	MOVQ	$1, AX	// SYS_write
	SYSCALL
	ADDQ	$16, SP
	RET
child:
	MOVQ	AX, R12	// the child's pid
	MOVQ	DI, R13	// the signal
	SUBQ	$32, SP	// struct sigaction, all zero: SIG_DFL
	MOVQ	$0, 0(SP)
	MOVQ	$0, 8(SP)
	MOVQ	$0, 16(SP)
	MOVQ	$0, 24(SP)
	MOVQ	SP, SI
	MOVQ	$0, DX
	MOVQ	$8, R10
	MOVQ	$13, AX	// SYS_rt_sigaction(sig, &act, NULL, 8)
	SYSCALL
	ADDQ	$32, SP
	MOVQ	$186, AX	// SYS_gettid
	SYSCALL
	MOVQ	R12, DI
	MOVQ	AX, SI
	MOVQ	R13, DX
	MOVQ	$234, AX	// SYS_tgkill(pid, tid, sig)
	SYSCALL
	RET

// restorer is where handler returns to: it ends the signal delivery.
TEXT ·restorer(SB),NOSPLIT|NOFRAME,$0-0
	MOVQ	$15, AX	// SYS_rt_sigreturn
	SYSCALL
	INT	$3	// not reached

TEXT ·handlerPC(SB),NOSPLIT,$0-8
	MOVQ	$·handler(SB), AX
	MOVQ	AX, ret+0(FP)
	RET

TEXT ·restorerPC(SB),NOSPLIT,$0-8
	MOVQ	$·restorer(SB), AX
	MOVQ	AX, ret+0(FP)
	RET
