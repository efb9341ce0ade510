/**
 * A `policy.json` read and validated on the host: by its JSON Schema (src/policy/policy.schema.json,
 * with ajv, every error at once, so that whoever edits the file sees all of them), then by the
 * portable parser the node itself runs at boot (src/policy/deployment-policy.ts), which adds the
 * rules JSON Schema cannot state. Both name an error by its JSON Pointer and the rule it breaks:
 *   /channels/7/privacy/k: must not be 1 (not)
 */
import { readFileSync } from "node:fs";
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js";
import POLICY_SCHEMA from "../../src/policy/policy.schema.json" with { type: "json" };
import { parsePolicy, PolicyError, type DeploymentPolicy } from "../../src/policy/deployment-policy.js";

export interface PolicyIssue {
  /** JSON Pointer of the offending value ("" for the whole document). */
  readonly path: string;
  /** The JSON Schema keyword broken ("placeholder" for the schema's fill-in rule), or the parser's `x-` rule. */
  readonly rule: string;
  readonly message: string;
}

export class PolicyFileError extends Error {
  override name = "PolicyFileError";
  readonly issues: readonly PolicyIssue[];

  constructor(file: string, issues: readonly PolicyIssue[]) {
    super(`${file}: not a valid policy:\n${issues.map((issue) => `  ${issue.path || "/"}: ${issue.message} (${issue.rule})`).join("\n")}`);
    this.issues = issues;
  }
}

/** The schema, compiled once per call site that needs it (compiling takes milliseconds). */
export function policySchemaValidator(): (raw: unknown) => PolicyIssue[] {
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
  const validate = ajv.compile(POLICY_SCHEMA);
  return (raw) => (validate(raw) ? [] : schemaIssues(validate.errors ?? []));
}

/**
 * ajv's errors as issues. A missing or unknown property is named by its own path (as the parser
 * names it); "if" only says that its "then" failed, which is reported on its own; the fill-in rule
 * (`$defs/text/not`) is "placeholder".
 */
export function schemaIssues(errors: readonly ErrorObject[]): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  for (const error of errors) {
    if (error.keyword === "if") continue;
    const params = error.params as { missingProperty?: string; additionalProperty?: string; allowedValues?: unknown[] };
    const child = params.missingProperty ?? params.additionalProperty;
    const path = child === undefined ? error.instancePath : `${error.instancePath}/${child.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    if (error.schemaPath.endsWith("/$defs/text/not")) {
      issues.push({ path, rule: "placeholder", message: "is a placeholder: say who, what or how" });
    } else if (error.keyword === "additionalProperties") {
      issues.push({ path, rule: "additionalProperties", message: "is not a policy field" });
    } else if (error.keyword === "required") {
      issues.push({ path, rule: "required", message: "is required" });
    } else {
      const allowed = params.allowedValues ? `: ${params.allowedValues.join(", ")}` : "";
      issues.push({ path, rule: error.keyword, message: `${error.message ?? "is invalid"}${allowed}` });
    }
  }
  return issues;
}

/** Validates a parsed policy document: the schema's issues, or else the parser's; the policy when there are none. */
export function checkPolicy(raw: unknown, validateSchema = policySchemaValidator()): { policy?: DeploymentPolicy; issues: PolicyIssue[] } {
  const issues = validateSchema(raw);
  if (issues.length > 0) return { issues };
  try {
    return { policy: parsePolicy(raw), issues: [] };
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    return { issues: [{ path: error.path, rule: error.rule, message: error.message.slice(error.message.indexOf(": ") + 2).replace(/ \([^()]*\)$/, "") }] };
  }
}

/** Reads and validates `file`; throws PolicyFileError listing every issue. */
export function loadPolicyFile(file: string): DeploymentPolicy {
  return loadPolicyDocument(file).policy;
}

/** As loadPolicyFile, with the document as written (what the operator signs) beside the parsed policy. */
export function loadPolicyDocument(file: string): { document: unknown; policy: DeploymentPolicy; name: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new PolicyFileError(file, [{ path: "", rule: "x-readable", message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` }]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new PolicyFileError(file, [{ path: "", rule: "x-json", message: `is not JSON (${(error as Error).message})` }]);
  }
  const { policy, issues } = checkPolicy(raw);
  if (!policy) throw new PolicyFileError(file, issues);
  return { document: raw, policy, name: policy.name };
}
