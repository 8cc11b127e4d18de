// Checks an ssh private key before any host is contacted, so a key that cannot be used (encrypted
// without its passphrase, a wrong passphrase, not a key) is a configuration error at preview time.
import { utils } from "ssh2";

export type SshKeyProblem = "needs-passphrase" | "wrong-passphrase" | "unreadable";

/** What keeps ssh2 from using the key, if anything; the key's text never reaches the answer. */
export function sshKeyProblem(key: string, passphrase?: string): SshKeyProblem | undefined {
  const parsed = utils.parseKey(key, passphrase);
  if (!(parsed instanceof Error)) return undefined;
  if (/no passphrase given/i.test(parsed.message)) return "needs-passphrase";
  if (/decrypt|passphrase/i.test(parsed.message) && passphrase !== undefined)
    return "wrong-passphrase";
  return "unreadable";
}
