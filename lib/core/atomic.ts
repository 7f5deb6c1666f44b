// One way to replace a file whole or not at all, for everything a reader may look at while
// it changes (the report page, the node exporter's metrics, the notification state): a
// temporary file in the same directory (rename(2) is atomic only within one file system),
// flushed, then renamed over the old one. The temporary file never stays behind, also when
// a full disk fails the write after the create succeeded.
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './errors.ts';

/**
 * A device, pipe or socket where the file should be: the rename would put the page in its
 * place (`--html /dev/null` run as root replaced /dev/null with a regular file). A link is
 * followed, as the rename would replace the link only.
 */
function notRegular(file: string): boolean {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  return st !== undefined && !st.isFile() && !st.isDirectory();
}

export function writeFileAtomic(file: string, text: string, mode = 0o644): void {
  if (notRegular(file)) throw new Error(`${file} is not a regular file`);
  const dir = path.dirname(path.resolve(file));
  // hidden and not ending like the file: a collector reading *.prom never sees a half file
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'w', mode);
    try {
      fs.writeFileSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // the umask may have narrowed the mode; readers (prometheus, a web server) need it as asked
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Before a run starts: the file can be replaced there at the end. Its directory exists, is
 * one and is writable (the temporary file goes there), and the file is not a directory
 * (the rename would fail on it) nor a device or pipe (it would be replaced): found only after the run, the run's work was done and
 * the file lost. One usage line instead. Returns the directory.
 */
export function checkTargetDir(file: string, where: string): string {
  const dir = path.dirname(path.resolve(file));
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new UsageError(`${where}: directory ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new UsageError(`${where}: ${dir} is not a directory`);
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${where}: ${file} is a directory`);
  if (notRegular(file)) throw new UsageError(`${where}: ${file} is not a regular file (a device or a pipe would be replaced by the file)`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new UsageError(`${where}: directory ${dir} is not writable`);
  }
  return dir;
}
