declare module "mc/config" {
  /** The manifest's `config`, merged with `name=value` pairs of the mcconfig command line (those arrive as strings). */
  const config: { readonly file?: { readonly root: string } } & Readonly<Record<string, unknown>>;
  export { config as default };
}
