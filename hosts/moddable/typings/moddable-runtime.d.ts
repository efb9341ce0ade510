// Globals of the XS runtime in a Moddable build (the SDK's xs/includes/xs.d.ts).

/** Prints to the debugger console (xsbug), or stdout in the simulator. */
declare function trace(...values: unknown[]): void;

/** Binary data a Moddable IO class accepts (xs.d.ts). */
type ByteBuffer = ArrayBufferLike | ArrayBufferView;
