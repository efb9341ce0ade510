/*
 * CSPRNG bytes on ESP32: esp_fill_random() draws on the hardware RNG, which is true random while
 * the radio (Wi-Fi or BLE) is on and is seeded from the bootloader's entropy otherwise (ESP-IDF
 * "Random Number Generation"). A civicnode always runs Wi-Fi and a BLE scan.
 */
#include "xsmc.h"
#include "esp_random.h"

void xs_civicnode_fill_random(xsMachine *the)
{
	void *data;
	xsUnsignedValue length;

	xsmcGetBufferWritable(xsArg(0), &data, &length);
	esp_fill_random(data, length);
}
