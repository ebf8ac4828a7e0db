package org.kvmmodel.arch.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalInt;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.pt.DecodedDescriptor;
import org.kvmmodel.api.pt.DescriptorKind;

class EptSpteEncoderTests {

  private static final long WB = Spte.vmxGetMtMask(false, false);
  private final EptSpteEncoder ad = new EptSpteEncoder(true, true);
  private final EptSpteEncoder noAd = new EptSpteEncoder(false, true);

  @Test
  void fourKibWritableLeafWithAdBits() {
    // bit 63, 58 (M), 57 (H) | pfn | D, A, MMU-present, WB, R, W, X
    assertEquals(0x8600000012345B37L, ad.makeSpte(1, 0x12345, Spte.ACC_ALL, false, true, WB));
  }

  @Test
  void twoMibReadOnlyHostLeafIgnoringGuestPat() {
    long spte = ad.makeSpte(2, 0x200, Spte.ACC_ALL, false, false, Spte.vmxGetMtMask(false, true));
    // no H, M, W or D: the host mapping is read-only
    assertEquals(0x80000000002009F5L, spte);
    assertTrue(Spte.isLastSpte(spte, 2));
    assertFalse(Spte.isWritablePte(spte));
  }

  @Test
  void hostMmioIsUncachedAndExecuteOnlyDropsRead() {
    long spte = ad.makeSpte(1, 0xFEE00, Spte.ACC_EXEC, false, true, Spte.vmxGetMtMask(true, false));
    assertEquals(0x82000000FEE00904L, spte);
    EptSpteEncoder noExecOnly = new EptSpteEncoder(true, false);
    assertEquals(
        spte | Spte.READABLE,
        noExecOnly.makeSpte(1, 0xFEE00, Spte.ACC_EXEC, false, true, Spte.vmxGetMtMask(true, false)));
  }

  @Test
  void adDisabledLeafCarriesTheTypeBits() {
    long spte = noAd.makeSpte(1, 0x1, Spte.ACC_ALL, false, true, WB);
    assertEquals(0x8610000000001B37L, spte);
    assertFalse(Spte.spteAdEnabled(spte));
    assertTrue(Spte.isDirtySpte(spte));
  }

  @Test
  void prefetchWithoutAdBitsIsAccessTrackedAndRestores() {
    long spte = noAd.makeSpte(1, 0x42, Spte.ACC_ALL, true, true, WB);
    assertTrue(Spte.isAccessTrackSpte(spte));
    assertTrue(Spte.isShadowPresentPte(spte));
    assertFalse(Spte.isAccessedSpte(spte));
    assertEquals(1L << 54 | 1L << 56, spte & (0x5L << 54));
    assertEquals(0, spte & Spte.RWX_MASK);
    long restored = Spte.restoreAccTrackSpte(spte);
    assertEquals(Spte.READABLE | Spte.EXECUTABLE, restored & Spte.RWX_MASK);
    assertEquals(0, restored & (0x5L << 54));
    assertTrue(Spte.isMmuWritableSpte(restored));
  }

  @Test
  void prefetchWithAdBitsOnlyLeavesAClear() {
    long spte = ad.makeSpte(1, 0x42, Spte.ACC_ALL, true, true, WB);
    assertEquals(ad.makeSpte(1, 0x42, Spte.ACC_ALL, false, true, WB) & ~Spte.ACCESSED, spte);
  }

  @Test
  void nonLeafSpte() {
    assertEquals(0x8000000001234907L, ad.makeNonleafSpte(0x1234000));
    assertEquals(0x8010000001234807L, noAd.makeNonleafSpte(0x1234000));
    assertFalse(Spte.isLastSpte(ad.makeNonleafSpte(0x1234000), 2));
  }

  @Test
  void specialValues() {
    assertEquals(0x8000000000000000L, Spte.SHADOW_NONPRESENT_VALUE);
    assertEquals(0x80000000000005A0L, Spte.FROZEN_SPTE);
    assertFalse(Spte.isShadowPresentPte(Spte.FROZEN_SPTE));
    assertFalse(Spte.isMmioSpte(Spte.FROZEN_SPTE));
    assertFalse(Spte.isMmioSpte(Spte.SHADOW_NONPRESENT_VALUE));
  }

  @Test
  void mmioSpteSplitsTheGenerationAndRoundTrips() {
    long spte = ad.makeMmioSpte(0xFEC00, 0x7FFFF);
    assertEquals(0x7FF00000FEC007FEL, spte);
    assertTrue(Spte.isMmioSpte(spte));
    assertFalse(Spte.isShadowPresentPte(spte));
    assertEquals(0x7FFFF, Spte.mmioSpteGeneration(spte));
    assertEquals(0xFEC00, Spte.mmioSpteGfn(spte));
    long low = ad.makeMmioSpte(1, 0x1A5);
    assertEquals(0x0010000000001000L | 0xA5L << 3 | 0x6, low);
    Random random = new Random(7);
    for (int i = 0; i < 1000; i++) {
      long gen = random.nextInt(1 << 19);
      long gfn = random.nextLong() & (Spte.BASE_ADDR_MASK >>> 12);
      long mmio = noAd.makeMmioSpte(gfn, gen);
      assertEquals(gen, Spte.mmioSpteGeneration(mmio));
      assertEquals(gfn, Spte.mmioSpteGfn(mmio));
    }
  }

  @Test
  void makeSmallSpteAdvancesTheAddressAndClearsPageSizeAtLevelOne() {
    long huge = ad.makeSpte(2, 0x400, Spte.ACC_ALL, false, true, WB);
    long child = EptSpteEncoder.makeSmallSpte(huge, 1, 5);
    assertEquals(ad.makeSpte(1, 0x405, Spte.ACC_ALL, false, true, WB), child);
    long giant = ad.makeSpte(3, 0x40000, Spte.ACC_ALL, false, true, WB);
    assertEquals(
        ad.makeSpte(2, 0x40000 + 3 * 512, Spte.ACC_ALL, false, true, WB),
        EptSpteEncoder.makeSmallSpte(giant, 2, 3));
  }

  @Test
  void writableInvariantsAreEnforced() {
    assertNull(Spte.writableInvariantViolation(ad.makeSpte(1, 1, Spte.ACC_ALL, false, true, WB)));
    long wNoM = ad.makeSpte(1, 1, Spte.ACC_USER, false, true, WB) | Spte.WRITABLE;
    assertEquals("writable without MMU-writable", Spte.writableInvariantViolation(wNoM));
    long mNoH = ad.makeSpte(1, 1, Spte.ACC_USER, false, false, WB) | Spte.MMU_WRITABLE;
    assertEquals("MMU-writable without host-writable", Spte.writableInvariantViolation(mNoH));
    assertThrows(IllegalStateException.class, () -> Spte.checkWritableInvariants(wNoM));
  }

  @Test
  void rejectsBadInput() {
    assertThrows(IllegalArgumentException.class, () -> ad.makeSpte(4, 0, Spte.ACC_ALL, false, true, WB));
    assertThrows(IllegalArgumentException.class, () -> ad.makeSpte(2, 0x201, Spte.ACC_ALL, false, true, WB));
    assertThrows(IllegalArgumentException.class, () -> ad.makeSpte(1, 1L << 40, Spte.ACC_ALL, false, true, WB));
    assertThrows(IllegalArgumentException.class, () -> ad.makeNonleafSpte(0x1001));
  }

  @Test
  void encodedLeavesDecodeBackToWhatWasAsked() {
    Random random = new Random(42);
    EptDescriptorFormat decoder = new EptDescriptorFormat(4, true);
    for (int i = 0; i < 2000; i++) {
      EptSpteEncoder encoder = random.nextBoolean() ? ad : noAd;
      int level = 1 + random.nextInt(3);
      long pfn = (random.nextLong() & (Spte.BASE_ADDR_MASK >>> 12)) & -Spte.pagesPerHugePage(level);
      int access = random.nextInt(8);
      boolean prefetch = random.nextInt(4) == 0;
      boolean hostWritable = random.nextBoolean();
      long mt = Spte.vmxGetMtMask(random.nextInt(5) == 0, random.nextBoolean());
      long spte = encoder.makeSpte(level, pfn, access, prefetch, hostWritable, mt);
      DecodedDescriptor d = decoder.decode(spte, OptionalInt.of(level));
      boolean writable = (access & Spte.ACC_WRITE) != 0 && hostWritable;
      boolean noRights = (access & (Spte.ACC_USER | Spte.ACC_EXEC)) == 0 && !writable;
      // without A/D bits an SPTE with RWX all clear is what access tracking looks like
      boolean tracked = !encoder.adEnabled() && (prefetch || noRights);
      assertEquals(tracked ? DescriptorKind.ACCESS_TRACKED : DescriptorKind.LEAF, d.kind(), Long.toHexString(spte));
      assertTrue(d.leaf());
      assertEquals(pfn << 12, d.outputAddress().getAsLong());
      assertEquals(Spte.pagesPerHugePage(level) << 12, d.mappingSize().getAsLong());
      assertEquals(writable && !tracked, d.writable());
      assertEquals(!tracked && (access & Spte.ACC_USER) != 0, d.readable());
      assertEquals(!tracked && (access & Spte.ACC_EXEC) != 0, d.executable());
      assertEquals(!prefetch, d.accessed());
      assertEquals(hostWritable, Spte.isHostWritable(spte));
      assertEquals(writable, Spte.isMmuWritableSpte(spte));
      if (tracked) {
        long restored = Spte.restoreAccTrackSpte(spte);
        assertEquals(
            ((access & Spte.ACC_USER) != 0 ? Spte.READABLE : 0)
                | ((access & Spte.ACC_EXEC) != 0 ? Spte.EXECUTABLE : 0),
            restored & Spte.RWX_MASK);
      }
    }
  }
}
