import { describe, expect, test } from 'bun:test';
import { handovers, settledPerRead, type SimLogEntry, type SimTaskTime } from '../../bench/trace.ts';

// one node, one slot: a create 0..100, seen by a list read handled at 110, the delete's
// write arriving at 112 and handled at 117, the delete 117..167, seen by a poll at 170
const log: SimLogEntry[] = [
  { method: 'POST', path: '/nodes/{node}/qemu/{vmid}/snapshot', raw: '/api2/json/nodes/n1/qemu/100/snapshot', at: -5, served: 0 },
  { method: 'GET', path: '/cluster/tasks', raw: '/api2/json/cluster/tasks', at: 50, served: 55 },
  { method: 'GET', path: '/cluster/tasks', raw: '/api2/json/cluster/tasks', at: 105, served: 110 },
  { method: 'DELETE', path: '/nodes/{node}/qemu/{vmid}/snapshot/{snapname}', raw: '/api2/json/nodes/n1/qemu/100/snapshot/a', at: 112, served: 117 },
  { method: 'POST', path: '/nodes/{node}/qemu/{vmid}/snapshot', raw: '/api2/json/nodes/n1/qemu/101/snapshot', at: 175, served: 180 },
  { method: 'GET', path: '/nodes/{node}/tasks/{upid}/status', raw: '/api2/json/nodes/n1/tasks/U/status', at: 165, served: 170 },
];
const tasks: SimTaskTime[] = [
  { upid: 'A', node: 'n1', type: 'qmsnapshot', id: '100', start: 0, end: 100 },
  { upid: 'B', node: 'n1', type: 'qmdelsnapshot', id: '100', start: 117, end: 167 },
  { upid: 'C', node: 'n1', type: 'qmsnapshot', id: '101', start: 180.2 },
];

describe('bench trace', () => {
  test.each([
    [0, { kind: 'qmsnapshot -> qmdelsnapshot', seen: 10, go: 7, client: 2, server: 0 }],
    [1, { kind: 'qmdelsnapshot -> qmsnapshot', seen: 3, go: 10.2, client: 5, server: 0.2 }],
  ])('hand-over %d', (i, want) => {
    const h = handovers(log, tasks, 1)[i];
    expect({ ...h, go: Math.round(h.go * 10) / 10, server: Math.round(h.server! * 10) / 10 }).toEqual(want);
  });
  test('tasks ended per list read', () => expect(settledPerRead(log, tasks)).toEqual([0, 1]));
});
