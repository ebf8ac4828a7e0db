package org.kvmmodel.core.model;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Stage;
import org.kvmmodel.core.choice.ChoiceStream;
import org.kvmmodel.core.config.ArchSelection;
import org.kvmmodel.core.config.ModelSettings;
import org.kvmmodel.core.kvm.KvmInstance;
import org.kvmmodel.core.mm.HostMemory;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import org.kvmmodel.core.sched.Scheduler;

/**
 * The model of one host: built from settings and the plugins found, it creates VMs that share
 * the host's memory. Plugins can be passed in directly (a port under development, a test
 * double) instead of discovered, as JUnit's launcher allows.
 */
public final class KvmModel {

  private final Injector host;

  private KvmModel(Injector host) {
    this.host = host;
  }

  /**
   * Validates the settings against the plugins and builds the host. Throws
   * {@link org.kvmmodel.core.config.SettingsException} for a bad arch, configuration or version.
   */
  public static KvmModel create(
      ModelSettings settings, ArchPluginRegistry registry, Scheduler scheduler, ChoiceStream choices) {
    ArchSelection.select(settings, registry);
    return new KvmModel(
        Guice.createInjector(Stage.PRODUCTION, new HostModule(settings, registry, scheduler, choices)));
  }

  /** A new VM with its own VMM process ({@code KVM_CREATE_VM}). */
  public KvmInstance createVm() {
    return host.createChildInjector(new VmModule()).getInstance(KvmInstance.class);
  }

  public HostMemory hostMemory() {
    return host.getInstance(HostMemory.class);
  }

  public ArchSelection selection() {
    return host.getInstance(ArchSelection.class);
  }
}
