// `rvisor exec` entry point (the process VM's Node front end). Placeholder until src/user/ lands.
import { UsageError } from "../../cli/main.js";

export async function execMain(_argv: string[]): Promise<number> {
  throw new UsageError("exec: the process VM is not implemented yet");
}
