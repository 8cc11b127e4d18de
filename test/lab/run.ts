// Runs a command and returns its standard output; a failure carries the command and its stderr.
import { execFile } from "node:child_process";

export interface RunOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append standard error to the output (tools that print diagnostics there). */
  withStderr?: boolean;
  /** Written to the command's standard input (secrets go here, never into arguments). */
  input?: string;
}

export function run(file: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        env: options.env ?? process.env,
        cwd: options.cwd,
      },
      (err, stdout, stderr) => {
        if (err) {
          // Tools like the Pulumi CLI print the reason of a failure on stdout.
          // The error lines come last too: a long output's tail may not reach back to them.
          const errorLines = `${stdout}\n${stderr}`
            .split("\n")
            .filter((line) => /\berror\b/i.test(line))
            .slice(-10);
          const output = [
            stderr.trim() || err.message,
            stdout.trim().slice(-4000),
            errorLines.length ? `error lines:\n${errorLines.join("\n")}` : "",
          ]
            .filter(Boolean)
            .join("\n");
          reject(new Error(`${file} ${args.join(" ")} failed: ${output}`));
        } else {
          resolve(options.withStderr ? stdout + stderr : stdout);
        }
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
