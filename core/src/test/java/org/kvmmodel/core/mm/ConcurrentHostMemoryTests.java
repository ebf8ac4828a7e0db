package org.kvmmodel.core.mm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.kvmmodel.api.kvm.HostPageSize;
import org.kvmmodel.core.choice.ChoiceStream;

class ConcurrentHostMemoryTests {

  private static final int RW = Vma.VM_READ | Vma.VM_WRITE;

  @Test
  void faultsGupReclaimAndMigrationOnSeveralThreadsLeaveEveryReferenceBalanced()
      throws InterruptedException {
    HostMemory mem = new HostMemory(1 << 14, 0, 0);
    HostFile file = mem.createFile(256);
    MmStruct mm = new MmStruct(mem);
    long anon = 0x1000_0000L;
    long shared = 0x2000_0000L;
    mm.mmap(anon, 256 * 4096, RW, VmaKind.ANON);
    mm.mmapFile(shared, 256 * 4096, RW, file, 0);
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 3; t++) {
      long seed = 100 + t;
      threads.add(new Thread(() -> {
        ChoiceStream choices = ChoiceStream.seeded(seed);
        try {
          go.await();
          for (int i = 0; i < 4000; i++) {
            long addr = (choices.chance(50) ? anon : shared)
                + ((long) choices.nextInt(256) << HostPageSize.SIZE_4K.shift());
            switch (choices.nextInt(4)) {
              case 0:
                mm.userWrite(addr);
                break;
              case 1:
                mm.userRead(addr);
                break;
              case 2:
                long pfn = mm.getUserPagesFastOnly(addr, FollFlags.FOLL_WRITE);
                if (pfn >= 0) {
                  mem.putPage(pfn);
                }
                break;
              default:
                long slow = mm.getUserPages(addr, FollFlags.FOLL_WRITE);
                if (slow >= 0) {
                  mem.putPage(slow);
                }
                break;
            }
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      }));
    }
    threads.add(new Thread(() -> {
      ChoiceStream choices = ChoiceStream.seeded(7);
      try {
        go.await();
        for (int i = 0; i < 1500; i++) {
          long victim = Victims.pickLruFolio(mem, choices);
          if (victim < 0) {
            continue;
          }
          switch (choices.nextInt(3)) {
            case 0:
              mem.reclaimFolio(victim);
              break;
            case 1:
              MigrationHandle h = mem.migrateStart(victim);
              if (h != null) {
                mem.migrateFinish(h);
              }
              break;
            default:
              long pgoff = Victims.pickCachedPage(file, choices);
              if (pgoff >= 0 && mem.writeback(file, pgoff)) {
                mem.endWriteback(file, pgoff);
              }
              break;
          }
        }
      } catch (Throwable e) {
        failures.add(e);
      }
    }));
    threads.forEach(Thread::start);
    go.countDown();
    for (Thread t : threads) {
      t.join();
    }
    assertTrue(failures.isEmpty(), () -> "failures: " + failures);
    mm.exitMmap();
    for (long pgoff = 0; pgoff < 256; pgoff++) {
      long pfn = file.cachedPfn(pgoff);
      if (pfn >= 0) {
        assertEquals(1, mem.refcount(pfn), "only the page cache holds page " + pgoff);
        assertEquals(0, mem.mapcount(pfn));
      }
    }
    long cached = 0;
    for (long pgoff = 0; pgoff < 256; pgoff++) {
      cached += file.cachedPfn(pgoff) >= 0 ? 1 : 0;
    }
    assertEquals(cached, mem.allocatedFolios(), "every anonymous folio was freed");
  }
}
