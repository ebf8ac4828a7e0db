package org.kvmmodel.core.mm;

import java.util.List;
import org.kvmmodel.core.choice.ChoiceStream;

/**
 * Victim choice for host operations, every decision drawn from a {@link ChoiceStream} so a
 * run replays exactly from its seed or its recorded choices.
 */
public final class Victims {

  private Victims() {}

  /**
   * A folio on the LRU (anonymous or file, in use), found by scanning up from a pfn drawn
   * from {@code choices}; its head pfn, or -1 if no folio is on the LRU.
   */
  public static long pickLruFolio(HostMemory memory, ChoiceStream choices) {
    long frames = memory.structPages();
    long start = choices.nextInt((int) frames);
    for (long i = 0; i < frames; i++) {
      long pfn = (start + i) % frames;
      long head = memory.folioHead(pfn);
      if (head == pfn && memory.refcount(pfn) > 0 && memory.isLru(pfn)) {
        return pfn;
      }
    }
    return -1;
  }

  /** A page-aligned address inside one of {@code mm}'s VMAs, or -1 if it has none. */
  public static long pickAddress(MmStruct mm, ChoiceStream choices) {
    List<Vma> vmas = mm.vmas();
    if (vmas.isEmpty()) {
      return -1;
    }
    Vma vma = vmas.get(choices.nextInt(vmas.size()));
    long pages = (vma.end() - vma.start()) >>> mm.memory().pageShift();
    return vma.start() + ((long) choices.nextInt((int) Math.min(pages, Integer.MAX_VALUE))
        << mm.memory().pageShift());
  }

  /** A cached page offset of {@code file}, scanning up from a drawn offset; -1 if none. */
  public static long pickCachedPage(HostFile file, ChoiceStream choices) {
    long size = file.sizePages();
    long start = choices.nextInt((int) size);
    for (long i = 0; i < size; i++) {
      long pgoff = (start + i) % size;
      if (file.cachedPfn(pgoff) >= 0) {
        return pgoff;
      }
    }
    return -1;
  }
}
