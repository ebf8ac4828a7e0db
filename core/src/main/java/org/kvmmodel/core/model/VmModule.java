package org.kvmmodel.core.model;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import org.kvmmodel.api.ArchFeature;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.core.config.ArchSelection;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.inject.FaultInjector;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.kvm.MemslotLimits;
import org.kvmmodel.core.kvm.VmList;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.mm.MmStruct;
import org.kvmmodel.core.sched.Scheduler;
import org.kvmmodel.core.trace.EventLog;

/**
 * One VM's object graph, a child of the host injector: the VMM process (its own mm on the shared
 * host memory) and {@code struct kvm}, whose arch MMU comes from the selected plugin's factory.
 */
final class VmModule extends AbstractModule {

  /** Events kept for the story of a failure. */
  static final int EVENT_RING = 4096;

  @Override
  protected void configure() {
    // Everything a VM needs is provided below or inherited from the host injector.
  }

  @Provides
  @Singleton
  EventLog eventLog() {
    return new EventLog(EVENT_RING);
  }

  @Provides
  @Singleton
  MmStruct vmm(HostMemory memory, Scheduler scheduler) {
    return new MmStruct(memory, scheduler);
  }

  @Provides
  @Singleton
  KvmInstance kvm(
      ArchSelection selection,
      ModelSettings settings,
      MmStruct vmm,
      Scheduler scheduler,
      FaultInjector inject,
      EventLog log,
      VmList vmList) {
    ArchPlugin plugin = selection.plugin();
    KvmInstance.Spec spec =
        new KvmInstance.Spec(
            selection.version(),
            plugin.mmuLockKind(),
            new MemslotLimits(
                plugin.memslotAddressSpaces(),
                plugin.internalMemslots(),
                plugin.readonlyMemory(),
                MemslotLimits.TASK_SIZE_MAX_4LEVEL),
            settings.dirtyLogMode(),
            plugin.features().contains(ArchFeature.ELIDE_TLB_FLUSH_IF_YOUNG),
            plugin.features().contains(ArchFeature.RANGED_REMOTE_TLB_FLUSH));
    return KvmInstance.create(
        spec, vmm, scheduler, inject, log,
        kvm -> plugin.createMmu(kvm, selection.configuration()),
        vmList);
  }
}
