package org.kvmmodel.core.model;

import com.google.inject.AbstractModule;
import org.kvmmodel.api.kvm.HostPageSize;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ArchSelection;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.kvm.VmList;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.Scheduler;

/**
 * The host-wide object graph: settings, the selected arch plugin, the scheduler, the choice
 * stream and the host memory every VM and process shares. Each VM is a child injector
 * ({@link VmModule}).
 */
final class HostModule extends AbstractModule {

  /** IO pfns (no struct page) available for PFNMAP mappings. */
  static final long IO_PAGES = 1 << 16;

  /**
   * ZONE_DEVICE frames (a device-DAX or pmem region, with struct pages but not online memory)
   * the host has for {@code ZONE_DEVICE} mappings: one PMD's worth, which keeps the IO pfns
   * that follow them PMD-aligned.
   */
  static final int DEVICE_PMDS = 1;

  /**
   * PMD-sized folios the host's RAM holds at least: {@code kvmmodel.host.memory} is raised to
   * this many PMDs where it is smaller, so THP and hugetlbfs memory can be PMD-sized on every
   * host page size (a 64 KiB-page host's 512 MiB THP needs GiBs of RAM). With the 256 MiB
   * default only a 64 KiB host is raised (to 8 GiB, 131072 frames).
   */
  static final int MIN_PMD_FOLIOS = 16;

  private final ModelSettings settings;
  private final ArchPluginRegistry registry;
  private final Scheduler scheduler;
  private final ChoiceStream choices;

  HostModule(
      ModelSettings settings, ArchPluginRegistry registry, Scheduler scheduler, ChoiceStream choices) {
    this.settings = settings;
    this.registry = registry;
    this.scheduler = scheduler;
    this.choices = choices;
  }

  @Override
  protected void configure() {
    bind(ModelSettings.class).toInstance(settings);
    bind(ArchPluginRegistry.class).toInstance(registry);
    bind(Scheduler.class).toInstance(scheduler);
    bind(ChoiceStream.class).toInstance(choices);
  }

  @Provides
  @Singleton
  ArchSelection selection() {
    return ArchSelection.select(settings, registry);
  }

  /**
   * The host's memory, in pages of the size the selected configuration's stage 2 needs (arm64's
   * granule is the host's {@code PAGE_SIZE}; every other arch runs on 4 KiB pages), and at
   * least {@link #MIN_PMD_FOLIOS} of that size's PMDs.
   */
  @Provides
  @Singleton
  HostMemory hostMemory(ArchSelection selection) {
    HostPageSize pageSize = HostPageSize.ofShift(selection.configuration().hostPageShift());
    long bytes = Math.max(settings.hostMemoryBytes(), MIN_PMD_FOLIOS * pageSize.pmdSize());
    long devicePages = DEVICE_PMDS * (pageSize.pmdSize() >>> pageSize.shift());
    return new HostMemory(bytes >>> pageSize.shift(), devicePages, IO_PAGES, pageSize, scheduler);
  }

  @Provides
  @Singleton
  VmList vmList() {
    return new VmList();
  }

  @Provides
  @Singleton
  FaultInjector faultInjector() {
    return new FaultInjector(settings.faultInjection(), choices);
  }
}
