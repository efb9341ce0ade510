/** The pinned CA certificate (DER) of an mqtts:// broker, built into the image as a resource (docs/tls.md). */
import Resource from "Resource";

export function caCertificate(name: string): ArrayBuffer {
  if (!Resource.exists(name)) throw new Error(`no resource "${name}" in the image: list the CA certificate under "data" in the manifest`);
  return new Resource(name).slice(0); // a copy in RAM, about 1 KB
}
