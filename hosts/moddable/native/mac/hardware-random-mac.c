/* CSPRNG bytes in the macOS simulator: arc4random_buf(3), the kernel-seeded CSPRNG. */
#include "xsmc.h"
#include <stdlib.h>

void xs_civicnode_fill_random(xsMachine *the)
{
	void *data;
	xsUnsignedValue length;

	xsmcGetBufferWritable(xsArg(0), &data, &length);
	arc4random_buf(data, length);
}
