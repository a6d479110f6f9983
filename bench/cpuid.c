/*
 * What one CPUID instruction costs here, in microseconds. glibc runs dozens
 * at every start (its CPU feature and cache detection); in a virtual machine
 * each one traps to the hypervisor, and that is most of a process start.
 */
#include <stdio.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

int
main(void)
{
	struct timespec a, b;
	unsigned int eax, ebx, ecx, edx;
	int n = 2000;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		__cpuid_count(4, i & 3, eax, ebx, ecx, edx);
		__asm__ volatile("" : : "r"(eax), "r"(ebx), "r"(ecx), "r"(edx));
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.2f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n / 1e3);
	return 0;
}
#else
int
main(void)
{
	return 1;
}
#endif
