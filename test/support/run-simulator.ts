/** Runs the built command-line tools (`npm start`, `npm run cmd`, ... without npm) and collects what they print. */
import { spawn } from "node:child_process";

export interface SimulatorRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `dist/<script>` with `args`; rejects if it has not finished after `timeoutMs`. */
export function runBuiltScript(script: string, args: readonly string[], timeoutMs = 60_000): Promise<SimulatorRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--enable-source-maps", `dist/${script}`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function runSimulator(args: readonly string[], timeoutMs = 60_000): Promise<SimulatorRun> {
  return runBuiltScript("hosts/node/main.js", args, timeoutMs);
}
