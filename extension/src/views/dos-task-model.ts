// The DOS section of a DOS task in the Processes view (our guest): the task's own report (PSP,
// status), its conventional memory (its private low chain and the MCB blocks it owns), the DOS
// arena's whole MCB chain (each block's type, owner, size and name; where it is broken), its XMS
// handles and its DPMI memory blocks. Pure (no VS Code).

import { ViewProcess, ViewSnapshot } from '../view-snapshot';
import { ViewNode, hex, size } from './view-node';

const seg = (s: number): string => `0x${s.toString(16).padStart(4, '0')}`;
const paraBytes = (paragraphs: number): string => size(paragraphs * 16);

/** Who an MCB owner id is: free, the system, or a process (pid + 1). */
export function mcbOwnerText(owner: number, doc: ViewSnapshot, self?: number): string {
  if (owner === 0) return 'free';
  if (owner === 8) return 'system';
  const pid = owner - 1;
  const p = doc.processes.find((x) => x.pid === pid);
  return `pid ${pid}${p ? ` ${p.name}` : ''}${owner === self ? ' (this task)' : ''}`;
}

export function dosTaskNode(doc: ViewSnapshot, p: ViewProcess): ViewNode {
  const id = `process:${p.pid}:dos`;
  const t = p.v86;
  if (!t) return { id, label: 'DOS task', description: 'its struct v86_task could not be read', icon: 'warning', warning: true };
  const arena = doc.dos;
  const mine = (arena?.blocks ?? []).filter((b) => b.owner !== 0 && b.owner === t.mcbOwner);
  const xms = (doc.xms ?? []).filter((x) => x.ownerPid === p.pid);
  const dpmi = (doc.dpmi ?? []).filter((b) => b.ownerPid === p.pid);
  const conventional: ViewNode = {
    id: `${id}:conventional`,
    label: 'conventional memory',
    description: `${size(t.lowChainBytes)} private + ${paraBytes(t.mcbParagraphs)} in ${t.mcbBlocks.length} MCB block${t.mcbBlocks.length === 1 ? '' : 's'}`,
    icon: 'circuit-board',
    children: () => [
      {
        id: `${id}:low`,
        label: `low chain ${t.lowChain}`,
        description: `0x00000-0x0ffff · ${t.lowPages} pages mapped · ${size(t.lowChainBytes)}`,
        tooltip: 'Its private first 64 KiB: interrupt vector table, BIOS data, PSP, program and stack.',
        icon: 'symbol-array',
        ...(t.lowChain ? { reveal: { kind: 'chain', id: t.lowChain } as const } : {}),
      },
      ...mine.map((b): ViewNode => ({
        id: `${id}:mcb:${b.segment}`,
        label: `block at ${seg(b.segment + 1)}`,
        description: `${paraBytes(b.paragraphs)} (${b.paragraphs} paragraphs)${b.name ? ` · ${b.name}` : ''}`,
        tooltip: `MCB at segment ${seg(b.segment)}, physical ${hex((b.segment + 1) * 16, 5)}..${hex((b.segment + 1 + b.paragraphs) * 16 - 1, 5)}`,
        icon: 'symbol-field',
        reveal: { kind: 'frame', physical: (b.segment + 1) * 16 },
      })),
    ],
  };
  const chain: ViewNode = arena ? {
    id: `${id}:mcbs`,
    label: 'MCB chain',
    description: `${arena.blocks.length} blocks · ${paraBytes(arena.freeParagraphs)} free, largest ${paraBytes(arena.largestFreeParagraphs)}${arena.broken ? ` · BROKEN at ${seg(arena.broken.segment)}` : ''}`,
    tooltip: `The DOS arena ${seg(arena.firstMcbSeg)}..${seg(arena.endSeg)} (every DOS task sees all of it at its real segments).${arena.broken ? `\nBroken at segment ${seg(arena.broken.segment)}: ${arena.broken.reason}.` : ''}`,
    icon: arena.broken ? 'warning' : 'list-ordered',
    warning: arena.broken !== undefined,
    children: () => [
      ...arena.blocks.map((b): ViewNode => ({
        id: `${id}:mcbs:${b.segment}`,
        label: `${seg(b.segment)} ${b.type}`,
        description: `${mcbOwnerText(b.owner, doc, t.mcbOwner)} · ${paraBytes(b.paragraphs)}${b.name ? ` · ${b.name}` : ''}`,
        icon: b.owner === 0 ? 'circle-outline' : b.owner === t.mcbOwner ? 'circle-filled' : 'circle-large-outline',
        reveal: { kind: 'frame', physical: b.segment * 16 },
      })),
      ...(arena.broken ? [{ id: `${id}:mcbs:broken`, label: `broken at ${seg(arena.broken.segment)}`, description: arena.broken.reason, icon: 'error', warning: true }] : []),
    ],
  } : { id: `${id}:mcbs`, label: 'MCB chain', description: 'not read', icon: 'list-ordered' };
  const handles: ViewNode = {
    id: `${id}:xms`,
    label: 'XMS handles',
    description: xms.length ? `${xms.length} · ${size(xms.reduce((n, x) => n + x.sizeKb * 1024, 0))}` : 'none',
    icon: 'key',
    ...(xms.length ? {
      children: () => xms.map((x): ViewNode => ({
        id: `${id}:xms:${x.handle}`,
        label: `handle ${hex(x.handle, 4)}`,
        description: `${size(x.sizeKb * 1024)} · chain ${x.chain}${x.lockCount ? ` · locked ×${x.lockCount}` : ''}`,
        icon: 'key',
        ...(x.chain ? { reveal: { kind: 'chain', id: x.chain } as const } : {}),
      })),
    } : {}),
  };
  const dpmiNode: ViewNode = {
    id: `${id}:dpmi`,
    label: 'DPMI memory',
    description: dpmi.length ? `${dpmi.length} block${dpmi.length === 1 ? '' : 's'} · ${size(dpmi.reduce((n, b) => n + b.size, 0))}` : 'none',
    icon: 'server',
    ...(dpmi.length ? {
      children: () => dpmi.map((b): ViewNode => ({
        id: `${id}:dpmi:${b.handle}`,
        label: `block ${hex(b.handle)}`,
        description: `${size(b.size)} at linear ${hex(b.linear)} · chain ${b.chain}${b.lockCount ? ` · locked ×${b.lockCount}` : ''}`,
        icon: 'server',
        reveal: { kind: 'address', virtual: b.linear, pid: p.pid },
      })),
    } : {}),
  };
  return {
    id,
    label: 'DOS task',
    description: `PSP ${seg(t.pspSeg)} · ${t.status} · MCB owner ${t.mcbOwner}`,
    tooltip: `struct v86_task at ${hex(t.address)}; its own report: ${t.status}.`,
    icon: 'terminal-cmd',
    children: () => [conventional, chain, handles, dpmiNode],
  };
}
