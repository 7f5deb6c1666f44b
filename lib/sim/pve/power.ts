// Power actions (start, shutdown, stop, suspend, resume) as tasks of the simulated
// guests, and the QEMU guest agent's ping and file-system freeze.
import { PveError } from './errors.ts';
import type { PveModel } from './model.ts';
import type { GuestType } from './records.ts';

export function powerTask(m: PveModel, node: string, type: GuestType, vmid: number, action: 'start' | 'shutdown' | 'stop' | 'suspend' | 'resume', opts: { todisk?: boolean }, user: string): string {
  const g0 = m.guestOn(node, type, vmid);
  const prefix = type === 'qemu' ? 'qm' : 'vz';
  const taskType = action === 'suspend' && type === 'qemu' && !opts.todisk ? 'qmpause' : `${prefix}${action}`;
  if (action === 'start' && g0.status === 'running' && !g0.paused) throw new PveError(500, `${type === 'qemu' ? 'VM' : 'CT'} ${vmid} already running`);
  return m.startTask(node, taskType, String(vmid), user, async () => {
    const g = m.taskGuest(node, type, vmid);
    await m.lockConfig(g);
    const word = type === 'qemu' ? 'VM' : 'CT';
    if (action === 'start' || action === 'resume') {
      if (g.lock && !(g.lock === 'suspended' && type === 'qemu')) m.checkLock(g);
      if (action === 'resume' && g.status !== 'running' && g.lock !== 'suspended') throw new Error(`${word} ${vmid} not running`);
    } else if (action !== 'stop') m.checkLock(g);
    if ((action === 'shutdown' || action === 'suspend') && g.status !== 'running') throw new Error(`${word} ${vmid} not running`);
    if (action === 'suspend' && opts.todisk) g.lock = 'suspending';
    await m.sleep(m.durations[taskType] ?? 0.5);
    const failure = m.injected(g, taskType);
    if (failure) {
      if (g.lock === 'suspending') g.lock = undefined;
      throw new Error(failure);
    }
    switch (action) {
      case 'start':
      case 'resume':
        if (g.lock === 'suspended') g.lock = undefined;
        m.setRunning(g);
        break;
      case 'shutdown':
      case 'stop':
        g.status = 'stopped';
        g.paused = false;
        g.agentRunning = false;
        g.startedAt = undefined;
        break;
      case 'suspend':
        if (opts.todisk) {
          g.lock = 'suspended';
          g.status = 'stopped';
          g.agentRunning = false;
          g.startedAt = undefined;
        } else g.paused = true;
        break;
    }
    m.touch(g);
  });
}

export function agentPing(m: PveModel, node: string, vmid: number): void {
  const g = m.guestOn(node, 'qemu', vmid);
  if (!g.agent || /^(0|enabled=0)(,|$)/.test(g.agent)) throw new PveError(500, 'No QEMU guest agent configured');
  if (g.status !== 'running') throw new PveError(500, `VM ${vmid} is not running`);
  if (!g.agentRunning || g.paused) throw new PveError(500, 'QEMU guest agent is not running');
}

/**
 * POST .../agent/fsfreeze-freeze and fsfreeze-thaw: the checks of agent_available in
 * qemu-server's PVE/QemuServer/Agent.pm (no agent configured, VM not running, agent not
 * running), then the guest's answer. Assumption: the result is the number of file
 * systems frozen or thawed (qemu-guest-agent's guest-fsfreeze-* return that count);
 * the simulator's guests have 2 when frozen. A second freeze fails as the agent does
 * while frozen (only guest-fsfreeze-status/thaw are allowed then).
 */
export function agentFreeze(m: PveModel, node: string, vmid: number, freeze: boolean): number {
  agentPing(m, node, vmid);
  const g = m.guestOn(node, 'qemu', vmid);
  if (freeze) {
    if (g.frozen) throw new PveError(500, 'Agent error: Command guest-fsfreeze-freeze has been disabled: the agent is in frozen state');
    g.frozen = true;
    return 2;
  }
  const was = g.frozen;
  g.frozen = false;
  return was ? 2 : 0;
}
