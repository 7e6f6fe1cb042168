/* What fcgi/main.c provides to the rest of appd, for unit-test programs that link the fcgi pieces. */
#include "appd.h"

const char *
appd_exe_path(void)
{
	return "/nonexistent/appd";
}

int
appd_owns_socket(void)
{
	return 0;
}
