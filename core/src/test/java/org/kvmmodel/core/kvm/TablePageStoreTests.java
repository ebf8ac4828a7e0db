package org.kvmmodel.core.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;
import org.kvmmodel.api.pt.PageTablePage;

class TablePageStoreTests {

  @Test
  void pagesAreCountedInTheFormatsOwnTablePagesWhateverTheirSize() {
    TablePageStore store = new TablePageStore(0x1000_0000L, 64);
    PageTablePage root = store.allocate(4, 2048);
    PageTablePage table = store.allocate(1, 2048);
    assertEquals(5, store.livePages(), "a 16 KiB granule's concatenated root and one table");
    assertEquals(0, root.physicalAddress() & (4 * 16384 - 1), "aligned to its whole size");
    assertSame(table, store.tableAt(table.physicalAddress()));
    store.free(table);
    store.free(root);
    assertEquals(0, store.livePages(), "freeing gives back what allocating took");
  }
}
