package feed

import "syscall"

const sysFstatat = syscall.SYS_NEWFSTATAT
