// The QEMU arguments that describe the machine a kernel boots on: what QEMU starts (a multiboot
// kernel, an ISO or a disk image), extra drives, CPUs, the display, the accelerator, and the PC devices that
// `-nodefaults` removes but real kernels expect (a VGA adapter, a parallel port). Pure: argument
// arrays in, argument arrays out, so it is tested without QEMU. The user's own QEMU arguments
// come after these and win; where appending alone would not undo a default (a second display
// adapter, `-nodefaults`), the default is left out.

/** What QEMU starts. */
export type BootMedium =
  /** A multiboot kernel loaded by QEMU itself (`-kernel`, `-append`). */
  | { readonly kind: 'kernel'; readonly file: string; readonly cmdline?: string }
  /** A bootable CD image (GRUB or another bootloader inside), on the secondary IDE master. */
  | { readonly kind: 'iso'; readonly file: string }
  /** A bootable hard-disk image, on the primary IDE master. */
  | { readonly kind: 'disk'; readonly file: string; readonly format?: DriveFormat };

/** Image formats QEMU's block layer reads (the common ones). */
export const DRIVE_FORMATS = ['raw', 'qcow2', 'qcow', 'vmdk', 'vdi', 'vpc', 'vhdx', 'qed', 'dmg', 'parallels', 'bochs', 'cloop'] as const;
export type DriveFormat = (typeof DRIVE_FORMATS)[number];
/** `-drive if=`: where the drive is attached (not `scsi`: QEMU 7.2's pc machine has no SCSI controller for it). */
export const DRIVE_INTERFACES = ['ide', 'floppy', 'virtio', 'none'] as const;
export type DriveInterface = (typeof DRIVE_INTERFACES)[number];
export const DRIVE_MEDIA = ['disk', 'cdrom'] as const;
export type DriveMedia = (typeof DRIVE_MEDIA)[number];

/** An extra drive (`-drive`). */
export interface DriveSpec {
  readonly file: string;
  /** Default raw. */
  readonly format?: DriveFormat;
  /** Default ide. */
  readonly interface?: DriveInterface;
  /** Default disk. */
  readonly media?: DriveMedia;
  /** Open the image read-only (always so for a cdrom). */
  readonly readOnly?: boolean;
}

/** `none`: no window (the default); `window`: QEMU's own GTK window. */
export type DisplayMode = 'none' | 'window';

export interface MachineOptions {
  readonly boot: BootMedium;
  readonly drives?: readonly DriveSpec[];
  /** Number of vCPUs (`-smp`). */
  readonly smp?: number;
  /** CPU model and features (`-cpu`), e.g. "qemu32,+nx" or "max". */
  readonly cpu?: string;
  readonly display?: DisplayMode;
  /** Add the PC devices -nodefaults removes (VGA, parallel port). Default true. */
  readonly pcDevices?: boolean;
  /** The user's QEMU arguments (appended after these by the launcher). */
  readonly userArgs?: readonly string[];
}

/** Display adapters a user may add with `-device`; any of them replaces our `-vga std`. */
const DISPLAY_DEVICES = new Set([
  'VGA', 'cirrus-vga', 'isa-cirrus-vga', 'isa-vga', 'bochs-display', 'virtio-vga', 'virtio-vga-gl', 'virtio-gpu-pci',
  'virtio-gpu-gl-pci', 'qxl-vga', 'qxl', 'vmware-svga', 'ati-vga', 'ramfb', 'secondary-vga',
]);

/** The options (as `-name`, without leading dashes) and their values in an argument list. */
function optionsIn(args: readonly string[]): { name: string; value: string | undefined }[] {
  const out: { name: string; value: string | undefined }[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('-')) continue;
    const bare = a.replace(/^--?/, '');
    const eq = bare.indexOf('=');
    if (eq > 0 && !bare.startsWith('device')) out.push({ name: bare.slice(0, eq), value: bare.slice(eq + 1) });
    else if (bare.startsWith('device=')) out.push({ name: 'device', value: bare.slice('device='.length) });
    else out.push({ name: bare, value: args[i + 1] });
  }
  return out;
}

/** What the user's arguments decide themselves, so our defaults stay out of the way. */
export function userChoices(userArgs: readonly string[]): { noDefaults: boolean; displayAdapter: boolean; parallel: boolean; display: boolean; accelerator: boolean } {
  const opts = optionsIn(userArgs);
  const has = (name: string): boolean => opts.some((o) => o.name === name);
  const adapterDevice = opts.some((o) => o.name === 'device' && o.value !== undefined && DISPLAY_DEVICES.has(o.value.split(',')[0]));
  return {
    noDefaults: has('nodefaults'),
    displayAdapter: has('vga') || adapterDevice,
    parallel: has('parallel'),
    display: has('display') || has('nographic') || has('vnc') || has('spice'),
    accelerator: has('accel') || has('enable-kvm')
      || opts.some((o) => (o.name === 'machine' || o.name === 'M') && o.value !== undefined && /(^|,)accel=/.test(o.value)),
  };
}

/** Doubles commas, QEMU's escape inside an option value (a path with a comma stays one value). */
export function escapeOptionValue(value: string): string {
  return value.replace(/,/g, ',,');
}

function driveArg(fields: Record<string, string | undefined>): string {
  return Object.entries(fields)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${escapeOptionValue(v)}`)
    .join(',');
}

/** The machine's arguments, to be followed by the user's. */
export function machineArgs(o: MachineOptions): string[] {
  const user = userChoices(o.userArgs ?? []);
  const args: string[] = [];
  if (!user.display) args.push('-display', o.display === 'window' ? 'gtk' : 'none');
  // Software emulation on one host thread: QEMU's multi-threaded TCG answers about 1-3 % of
  // gdbstub single steps without executing the instruction (measured on QEMU 7.2), which makes
  // steps diverge from what the code does. A user who names an accelerator decides themselves.
  if (!user.accelerator) args.push('-accel', 'tcg,thread=single');
  if ((o.pcDevices ?? true) && !user.noDefaults) {
    if (!user.displayAdapter) args.push('-vga', 'std');
    if (!user.parallel) args.push('-parallel', 'null');
  }
  const boot = o.boot;
  switch (boot.kind) {
    case 'kernel':
      args.push('-kernel', boot.file, '-append', boot.cmdline ?? '');
      break;
    case 'iso':
      args.push('-drive', driveArg({ file: boot.file, format: 'raw', if: 'ide', index: '2', media: 'cdrom', readonly: 'on' }), '-boot', 'order=d');
      break;
    case 'disk':
      args.push('-drive', driveArg({ file: boot.file, format: boot.format ?? 'raw', if: 'ide', index: '0', media: 'disk' }), '-boot', 'order=c');
      break;
  }
  for (const d of o.drives ?? []) {
    const media = d.media ?? 'disk';
    args.push('-drive', driveArg({
      file: d.file,
      format: d.format ?? 'raw',
      if: d.interface ?? 'ide',
      media,
      readonly: media === 'cdrom' || d.readOnly ? 'on' : undefined,
    }));
  }
  if (o.smp !== undefined) args.push('-smp', String(o.smp));
  if (o.cpu !== undefined) args.push('-cpu', o.cpu);
  return args;
}
