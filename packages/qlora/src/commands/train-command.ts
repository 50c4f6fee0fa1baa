/** `qlora train [config]`: reads and validates the config, then runs the whole pipeline. */
import { note, type CliIO } from '../run/io';
import { runTrain, type TrainSummary } from '../run/train-run';
import { parseTrainConfig, readConfigFile } from '../config';

export async function runTrainCommand(io: CliIO, configFile?: string): Promise<TrainSummary> {
  const raw = configFile ? await readConfigFile(configFile) : {};
  const cfg = parseTrainConfig(raw, { source: configFile ?? 'qlora config', warn: (m) => note(io, `note: ${m}`) });
  if (!configFile) note(io, 'no config given: the built-in demo (random-initialised Qwen2-architecture model, tiny chat set)');
  return runTrain(cfg, io);
}
