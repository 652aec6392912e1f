// The size of a PNG image from its signature and IHDR chunk (the first chunk of every PNG).
// Pure; no decoding of the pixels.

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface PngInfo {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  readonly colorType: number;
}

/** Reads the IHDR of a PNG; throws an Error saying what is wrong when `data` is not one. */
export function pngInfo(data: Uint8Array): PngInfo {
  if (data.length < 33) throw new Error(`the image has ${data.length} bytes, too few for a PNG header`);
  for (let i = 0; i < SIGNATURE.length; i++) {
    if (data[i] !== SIGNATURE[i]) throw new Error('the image does not start with the PNG signature');
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const length = view.getUint32(8);
  const type = String.fromCharCode(data[12], data[13], data[14], data[15]);
  if (type !== 'IHDR' || length !== 13) throw new Error(`the PNG's first chunk is "${type}" of ${length} bytes, not a 13-byte IHDR`);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width === 0 || height === 0) throw new Error(`the PNG says it is ${width}x${height}`);
  return { width, height, bitDepth: data[24], colorType: data[25] };
}
