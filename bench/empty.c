/* The floor of every measurement: a C program that starts and exits. */
int
main(void)
{
	return 0;
}
