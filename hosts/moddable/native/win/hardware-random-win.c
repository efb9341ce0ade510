/* CSPRNG bytes in the Windows simulator: rand_s(), which draws on the system's RtlGenRandom. */
#define _CRT_RAND_S
#include <stdlib.h>
#include "xsmc.h"

void xs_civicnode_fill_random(xsMachine *the)
{
	void *data;
	xsUnsignedValue length, i;
	unsigned int word;

	xsmcGetBufferWritable(xsArg(0), &data, &length);
	for (i = 0; i < length; i++) {
		if ((i & 3) == 0 && rand_s(&word) != 0)
			xsUnknownError("rand_s failed");
		((uint8_t *)data)[i] = (uint8_t)(word >> ((i & 3) * 8));
	}
}
