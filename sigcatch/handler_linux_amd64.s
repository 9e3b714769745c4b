#include "textflag.h"

// handler is called by the kernel as void handler(int sig), on the
// alternate signal stack with every signal blocked. It writes the signal
// number as one byte to writeFD and returns; the registers it changes are
// restored by rt_sigreturn. It touches nothing of the Go runtime.
//
// It writes only when it runs in ownPID: a child the runtime has forked
// (sharing this process's memory until it execs) keeps the handler until
// its exec, and a signal sent to the child then is the child's, not this
// process's to pass on.
TEXT ·handler(SB),NOSPLIT|NOFRAME,$0-0
	MOVQ	$39, AX	// SYS_getpid; the kernel keeps DI
	SYSCALL
	CMPL	AX, ·ownPID(SB)
	JNE	done
	SUBQ	$16, SP
	MOVB	DI, 0(SP)
	MOVLQSX	·writeFD(SB), DI
	MOVQ	SP, SI
	MOVQ	$1, DX
	MOVQ	$1, AX	// SYS_write
	SYSCALL
	ADDQ	$16, SP
done:
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
