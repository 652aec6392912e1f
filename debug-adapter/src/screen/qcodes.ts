// Browser KeyboardEvent.code (the physical key, whatever the layout) to QEMU's QKeyCode names,
// as QMP `send-key` takes them. The guest sees the PC scancodes of those keys.

/** KeyboardEvent.code -> QKeyCode. Keys missing here are not forwarded. */
export const QCODES: Readonly<Record<string, string>> = {
  ...Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`Key${String.fromCharCode(65 + i)}`, String.fromCharCode(97 + i)])),
  ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`Digit${i}`, String(i)])),
  ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`F${i + 1}`, `f${i + 1}`])),
  ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`Numpad${i}`, `kp_${i}`])),
  Enter: 'ret',
  Escape: 'esc',
  Backspace: 'backspace',
  Tab: 'tab',
  Space: 'spc',
  Minus: 'minus',
  Equal: 'equal',
  BracketLeft: 'bracket_left',
  BracketRight: 'bracket_right',
  Backslash: 'backslash',
  Semicolon: 'semicolon',
  Quote: 'apostrophe',
  Backquote: 'grave_accent',
  Comma: 'comma',
  Period: 'dot',
  Slash: 'slash',
  IntlBackslash: 'less',
  CapsLock: 'caps_lock',
  PrintScreen: 'print',
  ScrollLock: 'scroll_lock',
  Pause: 'pause',
  Insert: 'insert',
  Home: 'home',
  PageUp: 'pgup',
  Delete: 'delete',
  End: 'end',
  PageDown: 'pgdn',
  ArrowRight: 'right',
  ArrowLeft: 'left',
  ArrowDown: 'down',
  ArrowUp: 'up',
  NumLock: 'num_lock',
  NumpadDivide: 'kp_divide',
  NumpadMultiply: 'kp_multiply',
  NumpadSubtract: 'kp_subtract',
  NumpadAdd: 'kp_add',
  NumpadEnter: 'kp_enter',
  NumpadDecimal: 'kp_decimal',
  ContextMenu: 'menu',
  ShiftLeft: 'shift',
  ShiftRight: 'shift_r',
  ControlLeft: 'ctrl',
  ControlRight: 'ctrl_r',
  AltLeft: 'alt',
  AltRight: 'alt_r',
  MetaLeft: 'meta_l',
  MetaRight: 'meta_r',
};

/** The modifiers held with a key, as KeyboardEvent reports them. */
export interface KeyModifiers {
  readonly shift?: boolean;
  readonly ctrl?: boolean;
  readonly alt?: boolean;
  readonly meta?: boolean;
}

const MODIFIER_CODES = new Set(['ShiftLeft', 'ShiftRight', 'ControlLeft', 'ControlRight', 'AltLeft', 'AltRight', 'MetaLeft', 'MetaRight']);

/**
 * The qcodes `send-key` presses together (in order, released in reverse) for one key press: the
 * held modifiers, then the key. Throws an Error naming the key when it has no qcode.
 */
export function qcodesForKey(code: string, modifiers: KeyModifiers = {}): string[] {
  const key = QCODES[code];
  if (key === undefined) throw new Error(`the key "${code}" has no QEMU key code; it was not sent`);
  const held: string[] = [];
  if (!MODIFIER_CODES.has(code)) {
    if (modifiers.ctrl) held.push('ctrl');
    if (modifiers.shift) held.push('shift');
    if (modifiers.alt) held.push('alt');
    if (modifiers.meta) held.push('meta_l');
  }
  return [...held, key];
}
