/**
 * `parts` back to back in a fresh buffer. Unlike src/codec/bytes.ts `concatBytes`, which hands a
 * single part back as is, this always copies: a test keeps what it recorded even when the code
 * under test reuses the memory its views pointed into.
 */
export const concat = (parts: readonly Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))
