# Run by test/container_debian.test.ts in a container and under qemu-riscv64 on the same rootfs:
# the outputs must be equal.
use strict; use warnings;
use Digest::MD5 qw(md5_hex); use List::Util qw(sum max); use POSIX qw(floor);
print "$]\n";
print md5_hex("rvisor"), "\n";
my %h = map { $_ => $_ ** 2 } 1..20;
print join(",", map { $h{$_} } sort { $a <=> $b } keys %h), "\n";
print sum(1..100), " ", max(3, 9, 2), " ", floor(-2.5), "\n";
(my $s = "Hello World") =~ tr/a-z/A-Z/;
print "$s\n";
print join("|", "a1b22c333" =~ /(\d+)/g), "\n";
print unpack("H*", pack("NnC", 1, 2, 3)), "\n";
printf "%.6f %e %x\n", 3.14159265, 12345.678, 255;
my $n = 0; $n += $_ for 1..300000; print "$n\n";
print join(" ", reverse split //, "rvisor"), "\n";
