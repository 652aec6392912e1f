// The VGA text console: which screendump sizes are text modes, and the text buffer at physical
// 0xB8000 (character, attribute pairs) decoded through code page 437 into copyable lines.

/** Where the colour text buffer lives in guest-physical memory. */
export const VGA_TEXT_BUFFER = 0xb8000;

/** Code page 437, the VGA's built-in font, as Unicode (0x00 and 0xFF shown as spaces). */
export const CP437 =
  ' ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼' +
  ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~⌂' +
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»' +
  '░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■ ';

export interface TextGrid {
  readonly columns: number;
  readonly rows: number;
}

/**
 * The text grid behind a screendump of `width` x `height`, or undefined for a graphics mode. QEMU's
 * VGA renders text modes with 9 or 8 pixel wide cells, 16 (VGA) or 14 (EGA) lines high: 80x25 is
 * 720x400. (A 640x400 or 720x400 graphics mode would be taken for text; none of the VBE modes is.)
 */
export function textGridOf(width: number, height: number): TextGrid | undefined {
  for (const cell of [9, 8]) {
    for (const columns of [80, 40]) {
      if (width !== columns * cell) continue;
      if (height === 400 || height === 350) return { columns, rows: 25 };
      if (height === 800 || height === 700) return { columns, rows: 50 };
    }
  }
  return undefined;
}

/** Decodes `grid.rows` lines of `grid.columns` (char, attribute) pairs; trailing blanks trimmed. */
export function decodeVgaText(buffer: Uint8Array, grid: TextGrid): string[] {
  const need = grid.columns * grid.rows * 2;
  if (buffer.length < need) throw new Error(`the text buffer has ${buffer.length} bytes, not the ${need} of ${grid.columns}x${grid.rows}`);
  const lines: string[] = [];
  for (let r = 0; r < grid.rows; r++) {
    let line = '';
    for (let c = 0; c < grid.columns; c++) line += CP437[buffer[(r * grid.columns + c) * 2]];
    lines.push(line.replace(/\s+$/u, ''));
  }
  return lines;
}
