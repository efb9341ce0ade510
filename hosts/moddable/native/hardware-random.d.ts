/** Fills every byte of `buffer` from the platform's CSPRNG (native, see hardware-random.js). */
export default function fillRandom(buffer: ArrayBufferView | ArrayBuffer): void;
