package org.kvmmodel.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.Errno;
import org.kvmmodel.api.kvm.GuestAccess;
import org.kvmmodel.api.kvm.MemorySlot;
import org.kvmmodel.api.kvm.Stage2Walk;
import org.kvmmodel.api.kvm.Stage2Walker;
import org.kvmmodel.arch.x86.X86Plugin;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.config.SettingsException;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.UserspaceMemoryRegion2;
import org.kvmmodel.core.mm.Vma;
import org.kvmmodel.core.mm.VmaKind;
import org.kvmmodel.core.model.KvmModel;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.FreeScheduler;
import org.kvmmodel.core.trace.Tracepoint;
import org.kvmmodel.tests.doubles.ToyDriver;
import org.kvmmodel.tests.doubles.ToyPlugin;

/** The two SPI test doubles run a real VM through core, with nothing but the SPI. */
class SpiDoublesTests {

  private static final long MB = 1 << 20;
  private static final long HVA = 0x7f0000000000L;
  private static final ArchPluginRegistry REGISTRY =
      ArchPluginRegistry.of(
          List.of(ToyPlugin.spinlockWholeVm(), ToyPlugin.concatenatedRoot(), new X86Plugin()));

  private final List<Long> dirtied = new ArrayList<>();

  private KvmInstance vm(String arch) {
    ModelSettings settings = settings("kvmmodel.arch = " + arch);
    KvmModel model =
        KvmModel.create(settings, REGISTRY, FreeScheduler.INSTANCE, ChoiceStream.seeded(1));
    KvmInstance kvm = model.createVm();
    kvm.log().addListener(
        (seq, tp, actor, a, b, c) -> {
          if (tp == Tracepoint.FOLIO_MARK_DIRTY) {
            dirtied.add(a);
          }
        });
    assertEquals(HVA, kvm.vmm().mmap(HVA, 8 * MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(0, 0, 0, 8 * MB, HVA)));
    return kvm;
  }

  private static ModelSettings settings(String overrides) {
    return ModelSettings.from(
        ConfigFactory.parseString(overrides).withFallback(ConfigFactory.defaultReference()).resolve());
  }

  @Test
  void bothDoublesDemandFaultDirtyOnlyUnderTheLockAndAreZappedByTheNotifier() {
    for (String arch : List.of("toy-spin", "toy-concat")) {
      dirtied.clear();
      KvmInstance kvm = vm(arch);
      ToyDriver driver = new ToyDriver(kvm);
      assertEquals(0, driver.fault(3, true), arch);
      long leaf = driver.leafOf(3);
      assertTrue(driver.leafWritable(leaf), arch);
      long pfn = driver.leafPfn(leaf);
      assertEquals(List.of(pfn), dirtied, arch + ": release dirtied the folio once");
      assertTrue(kvm.memory().isDirty(pfn));
      assertEquals(1, kvm.memory().refcount(pfn), arch + ": only the host PTE holds the folio");

      assertEquals(0, kvm.vmm().munmap(HVA + 3 * 4096, 4096));
      assertEquals(0, driver.leafOf(3), arch + ": the notifier zapped the leaf");
      assertEquals(1, kvm.invalidate().seq());
    }
  }

  @Test
  void aVcpuWalkThatFaultsIsMappedByHandleGuestFault() {
    for (String arch : List.of("toy-spin", "toy-concat")) {
      dirtied.clear();
      KvmInstance kvm = vm(arch);
      ToyDriver driver = new ToyDriver(kvm);
      Stage2Walker walker = kvm.arch().walker();
      Stage2Walk walk = new Stage2Walk();
      walk.begin((20L << 12) | 0x40, GuestAccess.WRITE);
      walker.walk(walk);
      assertFalse(walk.translated(), arch);
      assertFalse(walk.entryPresent(), arch + ": nothing mapped yet");
      assertEquals(0, kvm.arch().handleGuestFault(0, walk), arch);
      walk.begin((20L << 12) | 0x40, GuestAccess.WRITE);
      walker.walk(walk);
      assertTrue(walk.translated(), arch + ": the vCPU re-executes the access");
      long pfn = driver.leafPfn(driver.leafOf(20));
      assertEquals((pfn << 12) | 0x40, walk.hpa(), arch);
      assertEquals(GuestAccess.READ | GuestAccess.WRITE | GuestAccess.EXEC, walk.permissions(), arch);
      assertEquals(List.of(pfn), dirtied, arch);

      assertEquals(0, driver.fault(21, false), arch);
      walk.begin(21L << 12, GuestAccess.WRITE);
      walker.walk(walk);
      assertTrue(walk.entryPresent(), arch + ": the zero page is mapped read-only");
      assertEquals(GuestAccess.READ | GuestAccess.EXEC, walk.permissions(), arch);
      for (int attempt = 0; attempt < 3 && !walk.translated(); attempt++) {
        assertEquals(0, kvm.arch().handleGuestFault(0, walk), arch);
        walk.begin(21L << 12, GuestAccess.WRITE);
        walker.walk(walk);
      }
      assertTrue(walk.translated(), arch + ": the write was mapped after a retry at most");
      assertTrue(driver.leafWritable(driver.leafOf(21)), arch);
    }
  }

  @Test
  void theSpinlockDoubleHasNoReadSide() {
    KvmInstance kvm = vm("toy-spin");
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> kvm.mmuLock().readLock());
    assertEquals("read_lock on mmu_lock, which is a spinlock on this arch", e.getMessage());
  }

  @Test
  void wholeVmRetryRetriesForAnyInvalidationGfnRangedOnlyForItsRange() {
    for (String arch : List.of("toy-spin", "toy-concat")) {
      dirtied.clear();
      KvmInstance kvm = vm(arch);
      ToyDriver driver = new ToyDriver(kvm);
      kvm.mmuLock().lock();
      kvm.invalidate().begin();
      kvm.invalidate().rangeAdd(1000, 1010);
      kvm.mmuLock().unlock();
      int r = driver.fault(5, true);
      if (arch.equals("toy-spin")) {
        assertEquals(Errno.EAGAIN.negative(), r, "mmu_invalidate_retry: whole VM");
        assertEquals(0, driver.leafOf(5));
        assertTrue(dirtied.isEmpty(), "a retried fault releases its page unused");
      } else {
        assertEquals(0, r, "mmu_invalidate_retry_gfn: gfn 5 is outside [1000, 1010)");
        assertNotEquals(0, driver.leafOf(5));
        assertEquals(Errno.EAGAIN.negative(), driver.fault(1004, true));
      }
      kvm.mmuLock().lock();
      kvm.invalidate().end();
      kvm.mmuLock().unlock();
      assertEquals(0, driver.fault(6, true), arch + ": after the invalidation ends");
    }
  }

  @Test
  void theConcatenatedRootSpansFourPages() {
    KvmInstance kvm = vm("toy-concat");
    ToyDriver driver = new ToyDriver(kvm);
    assertEquals(4, driver.rootPages());
    long high = 3L << 27;
    long hva = HVA + 64 * MB;
    assertEquals(hva, kvm.vmm().mmap(hva, MB, Vma.VM_READ | Vma.VM_WRITE, VmaKind.ANON));
    assertEquals(
        0, kvm.setUserMemoryRegion2(new UserspaceMemoryRegion2(1, 0, high << 12, MB, hva)));
    assertEquals(0, driver.fault(high + 1, false));
    assertEquals(0, driver.fault(2, false));
    assertNotEquals(0, driver.leafOf(high + 1), "mapped through the fourth root page");
    assertNotEquals(0, driver.leafOf(2));
    MemorySlot slot = kvm.gfnToMemslot(0, high);
    assertEquals(high, slot.baseGfn());
  }

  @Test
  void settingsAreCheckedAgainstThePluginsFound() {
    assertEquals(
        "kvmmodel.arch: unknown arch 'sparc' (plugins found: toy-concat, toy-spin, x86)",
        assertThrows(SettingsException.class,
            () -> KvmModel.create(settings("kvmmodel.arch = sparc"), REGISTRY,
                FreeScheduler.INSTANCE, ChoiceStream.seeded(1))).getMessage());
    assertEquals(
        "kvmmodel.arch-configuration: arch x86 has no configuration 'ept6' (known: ept4-ad,"
            + " ept4-noad, ept5-ad, ept5-noad)",
        assertThrows(SettingsException.class,
            () -> KvmModel.create(settings("kvmmodel.arch-configuration = ept6"), REGISTRY,
                FreeScheduler.INSTANCE, ChoiceStream.seeded(1))).getMessage());
    assertEquals(
        "kvmmodel.kvm.version: arch x86 does not model 5.15 (it models: 6.13)",
        assertThrows(SettingsException.class,
            () -> KvmModel.create(settings("kvmmodel.kvm.version = \"5.15\""), REGISTRY,
                FreeScheduler.INSTANCE, ChoiceStream.seeded(1))).getMessage());
    assertFalse(REGISTRY.plugins().isEmpty());
  }
}
