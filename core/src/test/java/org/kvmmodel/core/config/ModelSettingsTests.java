package org.kvmmodel.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.kvmmodel.api.KvmVersion;

class ModelSettingsTests {

  @TempDir Path dir;

  private ModelSettings parse(String text) {
    return ModelSettings.from(
        ConfigFactory.parseString(text).withFallback(ConfigFactory.defaultReference()).resolve());
  }

  private String refused(String text) {
    return assertThrows(SettingsException.class, () -> parse(text)).getMessage();
  }

  @Test
  void defaultsAreTheEmbeddedReference() {
    ModelSettings s = ModelSettings.defaults();
    assertEquals("x86", s.arch());
    assertEquals(KvmVersion.DEFAULT, s.kvmVersion());
    assertEquals(256L << 20, s.hostMemoryBytes());
    assertEquals(FaultInjectionSettings.NONE, s.faultInjection());
  }

  @Test
  void overridesApply() {
    ModelSettings s = parse("kvmmodel { seed = 42, host.memory = 1 GiB, fault-injection.gup-efault = 5 }");
    assertEquals(42, s.seed());
    assertEquals(1L << 30, s.hostMemoryBytes());
    assertEquals(5, s.faultInjection().gupEfault());
  }

  @Test
  void unknownKeysNameTheirPathAndTheAllowedKeys() {
    assertEquals(
        "unknown config key kvmmodel.seeed (allowed under kvmmodel: arch, arch-configuration,"
            + " conformance, fault-injection, host, kvm, seed, vm)",
        refused("kvmmodel.seeed = 3"));
    assertEquals(
        "unknown config key kvmmodel.fault-injection.gup-eio (allowed under"
            + " kvmmodel.fault-injection: cache-enomem, cmpxchg-loss, gup-efault, gup-hwpoison)",
        refused("kvmmodel.fault-injection.gup-eio = 3"));
  }

  @Test
  void badValuesNameTheKeyAndWhatIsAllowed() {
    assertEquals(
        "kvmmodel.fault-injection.cmpxchg-loss must be an integer percentage 0-100, got 101",
        refused("kvmmodel.fault-injection.cmpxchg-loss = 101"));
    assertEquals(
        "kvmmodel.kvm.version: 'six' is not a kernel version (MAJOR.MINOR, e.g. 6.13)",
        refused("kvmmodel.kvm.version = six"));
    assertEquals(
        "kvmmodel.host.memory must be a size such as 256 MiB or 4 GiB",
        refused("kvmmodel.host.memory = lots"));
    assertEquals(
        "kvmmodel.vm.dirty-log.initially-set = true needs kvmmodel.vm.dirty-log.manual-protect = true",
        refused("kvmmodel.vm.dirty-log.initially-set = true"));
    assertEquals("kvmmodel.seed must be an integer", refused("kvmmodel.seed = abc"));
  }

  @Test
  void missingAndUnparseableFilesAreNamed() throws IOException {
    File missing = dir.resolve("nope.conf").toFile();
    assertEquals(
        "config file not found: " + missing,
        assertThrows(SettingsException.class, () -> ModelSettings.load(missing)).getMessage());
    Path bad = dir.resolve("bad.conf");
    Files.write(bad, "kvmmodel { arch = ".getBytes(StandardCharsets.UTF_8));
    String message =
        assertThrows(SettingsException.class, () -> ModelSettings.load(bad.toFile())).getMessage();
    assertTrue(message.startsWith("cannot parse config file " + bad), message);
    Path good = dir.resolve("good.conf");
    Files.write(good, "kvmmodel.seed = 9".getBytes(StandardCharsets.UTF_8));
    assertEquals(9, ModelSettings.load(good.toFile()).seed());
  }
}
