#include "textflag.h"

// handler is called by the kernel as void handler(int sig), on the
// alternate signal stack with every signal blocked, with the link register
// pointing at restorer. It writes the signal number as one byte to writeFD
// and returns; the registers it changes are restored by rt_sigreturn. It
// touches nothing of the Go runtime.
//
// It writes only when it runs in ownPID: a child the runtime has forked
// (sharing this process's memory until it execs) keeps the handler until
// its exec, and a signal sent to the child then is the child's, not this
// process's to pass on.
TEXT ·handler(SB),NOSPLIT|NOFRAME,$0-0
	MOVD	R0, R9	// the signal; system calls keep R9
	MOVD	$172, R8	// SYS_getpid
	SVC
	MOVW	·ownPID(SB), R10
	CMPW	R10, R0
	BNE	done
	SUB	$16, RSP
	MOVB	R9, (RSP)
	MOVW	·writeFD(SB), R0
	MOVD	RSP, R1
	MOVD	$1, R2
	MOVD	$64, R8	// SYS_write
	SVC
	ADD	$16, RSP
done:
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
