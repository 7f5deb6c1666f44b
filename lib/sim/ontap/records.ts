// The records of the simulated ONTAP cluster (volumes, snapshots, files, LIFs, SVMs,
// SnapMirror relationships, jobs) and the errors ONTAP answers with, shared by the state
// (state.ts) and its two views, REST (rest.ts) and ZAPI (zapi.ts).

export interface SimFile {
  size: number;
  /** what the bytes are: a clone records its source so tests can follow the chain */
  origin: string;
  /** the bytes themselves, for the small files written through the files API */
  content?: string;
}

export interface SimSnapshot {
  uuid: string;
  name: string;
  createTime: number;
  comment?: string;
  snapmirrorLabel?: string;
  /** ms; ONTAP refuses to delete the snapshot before then */
  expiryTime?: number;
  files: Map<string, SimFile>;
}

/** A SnapMirror relationship (both ends in this cluster, as with an SVM-to-SVM mirror). */
export interface SimMirror {
  uuid: string;
  source: string;
  destination: string;
  state: 'snapmirrored' | 'broken_off' | 'uninitialized';
  transfers: number;
}

/** A deleted volume kept in its SVM's recovery queue, still owning what it owned. */
export interface SimQueued {
  volume: SimVolume;
  deletedAt: number;
}

export interface SimVolume {
  uuid: string;
  name: string;
  svm: string;
  path?: string;
  exportPolicy: string;
  state: 'online' | 'offline';
  style: 'flexvol' | 'flexgroup';
  size: number;
  createTime: number;
  files: Map<string, SimFile>;
  snapshots: SimSnapshot[];
  clone?: { parentVolume: string; parentVolumeUuid: string; parentSnapshot: string; parentSnapshotUuid: string };
}

export interface SimLif {
  uuid: string;
  name: string;
  svm: string;
  ip: string;
  services: string[];
  state: 'up' | 'down';
}

export interface SimSvm {
  uuid: string;
  name: string;
}

export type JobState = 'queued' | 'running' | 'paused' | 'success' | 'failure';
export interface SimJob {
  uuid: string;
  description: string;
  state: JobState;
  message: string;
  code: number;
  startTime: number;
  endTime?: number;
  error?: { code: string; message: string };
  /** resolves when the job ends; return_timeout waits on it */
  done: Promise<void>;
}

/**
 * An ONTAP error. `code` is the REST error code (a string in REST bodies, an integer in
 * job records), `errno` the ZAPI error number, `status` the REST HTTP status.
 */
export class SimError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400, readonly errno = Number(code)) {
    super(message);
  }
}

// Codes from the fact sheet: 4 (entry doesn't exist) for REST; 13040, 13024, 13130, 15661,
// 13003 for ZAPI. Where neither the sheet nor NetApp's reference names a REST code, the
// ZAPI number stands in for it (an assumption).
export const ERR = {
  noVolume: (name: string) => new SimError('4', `entry doesn't exist: volume "${name}"`, 404, 13040),
  noSnapshot: (snap: string, vol: string) => new SimError('4', `entry doesn't exist: snapshot "${snap}" of volume "${vol}"`, 404, 15661),
  noEntry: (what: string) => new SimError('4', `entry doesn't exist: ${what}`, 404, 15661),
  noFile: (p: string, vol: string) => new SimError('4', `entry doesn't exist: file "${p}" in volume "${vol}"`, 404, 2),
  // 1638543 "Failed to delete Snapshot copy because it has an owner" and 1638555 "has not
  // expired or is locked": the codes of DELETE /storage/volumes/{volume.uuid}/snapshots/{uuid}
  // (https://docs.netapp.com/us-en/ontap-restapi/delete-storage-volumes-snapshots-.html).
  // The message wording is an assumption.
  busy: (snap: string, vol: string, svm: string, clone: string) =>
    new SimError('1638543', `Failed to delete Snapshot copy "${snap}" of volume "${vol}" on Vserver "${svm}" because it has an owner: FlexClone volume "${clone}".`, 409, 13024),
  expiry: (snap: string, vol: string, until: string) =>
    new SimError('1638555', `Snapshot copy "${snap}" of volume "${vol}" has not expired or is locked (expiry time ${until}).`, 409, 13024),
  duplicate: (what: string) => new SimError('13130', `${what} already exists`, 409, 13130),
  invalid: (msg: string) => new SimError('2', msg, 400, 13115),
} as const;
