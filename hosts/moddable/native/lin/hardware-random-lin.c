/* CSPRNG bytes in the Linux simulator: getrandom(2), the kernel's CSPRNG. */
#include "xsmc.h"
#include <errno.h>
#include <sys/random.h>

void xs_civicnode_fill_random(xsMachine *the)
{
	void *data;
	xsUnsignedValue length;
	uint8_t *next;

	xsmcGetBufferWritable(xsArg(0), &data, &length);
	next = data;
	while (length > 0) {
		ssize_t got = getrandom(next, length, 0);
		if (got < 0) {
			if (EINTR == errno)
				continue;
			xsUnknownError("getrandom failed");
		}
		next += got;
		length -= (xsUnsignedValue)got;
	}
}
