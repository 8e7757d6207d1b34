/* Start-to-exit benchmark for the process VM: a static hello world. */
#include <stdio.h>
int main(void) { puts("hello, world"); return 0; }
