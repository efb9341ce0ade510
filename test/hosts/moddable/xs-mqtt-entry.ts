/** Entry of the XS bundle that runs the scripted MQTT session: any command returns its result as UTF-8 JSON. */
import { utf8Encode } from "../../../src/wire/utf8.js";
import { runMqttScenario } from "./xs-mqtt-scenario.js";

(globalThis as unknown as { handleCommand: (message: ArrayBuffer) => ArrayBuffer }).handleCommand = () => {
  const bytes = utf8Encode(JSON.stringify(runMqttScenario()));
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
};
