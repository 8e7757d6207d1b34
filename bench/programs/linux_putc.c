/* Lets bench/programs/cpubench.c (written for bare metal with HTIF output) run as a static
 * Linux program: its characters go to stdout. */
#include <unistd.h>
void htif_putc(int c) { char ch = (char)c; write(1, &ch, 1); }
