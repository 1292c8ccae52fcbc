/**
 * Boolean properties of a class, kept as the bits of one small-integer `bits` field of each
 * instance (bit i = names[i]): a boolean object field takes a pointer-sized slot each, and load
 * mode holds 150,000 sessions and connections. Up to 31 names.
 */
export function defineBitFlags(proto: { bits: number }, names: readonly string[]): void {
  if (names.length > 31) throw new RangeError('at most 31 bit flags');
  names.forEach((name, i) => {
    const bit = 1 << i;
    Object.defineProperty(proto, name, {
      get(this: { bits: number }): boolean {
        return (this.bits & bit) !== 0;
      },
      set(this: { bits: number }, v: boolean) {
        this.bits = v ? this.bits | bit : this.bits & ~bit;
      },
      enumerable: false,
      configurable: false,
    });
  });
}
