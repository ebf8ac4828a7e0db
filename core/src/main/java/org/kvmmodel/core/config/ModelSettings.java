package org.kvmmodel.core.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.io.File;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.kvmmodel.api.KvmVersion;
import org.kvmmodel.core.kvm.DirtyLogMode;

/**
 * The typed view of {@code kvmmodel { ... }}: every value validated as it is read, every
 * refusal a {@link SettingsException} naming the key path and the allowed values, as
 * Caffeine's simulator reads its {@code reference.conf}.
 */
public record ModelSettings(
    String arch,
    String archConfiguration,
    KvmVersion kvmVersion,
    long seed,
    long hostMemoryBytes,
    DirtyLogMode dirtyLogMode,
    FaultInjectionSettings faultInjection,
    int generatedScenarios) {

  private static final String ROOT = "kvmmodel";

  /** The embedded defaults alone. */
  public static ModelSettings defaults() {
    return from(ConfigFactory.defaultReference(ModelSettings.class.getClassLoader()));
  }

  /**
   * {@code file} layered over the defaults. A missing or unparseable file is a
   * {@link SettingsException} that names it.
   */
  public static ModelSettings load(File file) {
    if (!file.isFile()) {
      throw new SettingsException("config file not found: " + file);
    }
    Config user;
    try {
      user =
          ConfigFactory.parseFile(
              file, ConfigParseOptions.defaults().setAllowMissing(false).setSyntax(syntaxOf(file)));
    } catch (ConfigException e) {
      throw new SettingsException(
          "cannot parse config file " + file + ": " + e.getMessage().replace('\n', ' '), e);
    }
    return from(
        user.withFallback(ConfigFactory.defaultReference(ModelSettings.class.getClassLoader()))
            .resolve());
  }

  /** The settings in {@code config}, which already holds the defaults beneath its values. */
  public static ModelSettings from(Config config) {
    Config reference = ConfigFactory.defaultReference(ModelSettings.class.getClassLoader());
    rejectUnknownKeys(config.getConfig(ROOT), reference.getConfig(ROOT), ROOT);
    Config c = config.getConfig(ROOT);
    return new ModelSettings(
        string(c, "arch"),
        string(c, "arch-configuration"),
        version(c),
        seed(c),
        memory(c),
        dirtyLog(c),
        new FaultInjectionSettings(
            percent(c, "fault-injection.gup-efault"),
            percent(c, "fault-injection.gup-hwpoison"),
            percent(c, "fault-injection.cache-enomem"),
            percent(c, "fault-injection.cmpxchg-loss")),
        generatedScenarios(c));
  }

  private static int generatedScenarios(Config c) {
    String key = "conformance.generated-scenarios";
    int value;
    try {
      value = c.getInt(key);
    } catch (ConfigException.WrongType e) {
      throw new SettingsException(ROOT + "." + key + " must be an integer 0 or more", e);
    }
    if (value < 0) {
      throw new SettingsException(ROOT + "." + key + " must be an integer 0 or more, got " + value);
    }
    return value;
  }

  private static ConfigSyntax syntaxOf(File file) {
    return file.getName().toLowerCase(Locale.US).endsWith(".json") ? ConfigSyntax.JSON : ConfigSyntax.CONF;
  }

  private static void rejectUnknownKeys(Config given, Config reference, String path) {
    for (Map.Entry<String, ConfigValue> e : given.root().entrySet()) {
      String key = e.getKey();
      String full = path + "." + key;
      if (!reference.root().containsKey(key)) {
        Set<String> allowed = new TreeSet<>(reference.root().keySet());
        throw new SettingsException(
            "unknown config key " + full + " (allowed under " + path + ": "
                + String.join(", ", allowed) + ")");
      }
      ConfigValue ref = reference.root().get(key);
      if (ref.valueType() == ConfigValueType.OBJECT) {
        if (e.getValue().valueType() != ConfigValueType.OBJECT) {
          throw new SettingsException(full + " must be an object");
        }
        rejectUnknownKeys(given.getConfig(quote(key)), reference.getConfig(quote(key)), full);
      }
    }
  }

  private static String quote(String key) {
    return "\"" + key + "\"";
  }

  private static String string(Config c, String key) {
    try {
      return c.getString(key);
    } catch (ConfigException.WrongType e) {
      throw new SettingsException(ROOT + "." + key + " must be a string", e);
    }
  }

  private static KvmVersion version(Config c) {
    String text = string(c, "kvm.version");
    try {
      return KvmVersion.parse(text);
    } catch (IllegalArgumentException e) {
      throw new SettingsException(
          ROOT + ".kvm.version: '" + text + "' is not a kernel version (MAJOR.MINOR, e.g. 6.13)", e);
    }
  }

  private static long seed(Config c) {
    try {
      return c.getLong("seed");
    } catch (ConfigException.WrongType e) {
      throw new SettingsException(ROOT + ".seed must be an integer", e);
    }
  }

  private static long memory(Config c) {
    long bytes;
    try {
      bytes = c.getBytes("host.memory");
    } catch (ConfigException.BadValue | ConfigException.WrongType e) {
      throw new SettingsException(
          ROOT + ".host.memory must be a size such as 256 MiB or 4 GiB", e);
    }
    if (bytes < (1L << 21) || (bytes & ((1L << 21) - 1)) != 0) {
      throw new SettingsException(
          ROOT + ".host.memory must be a positive multiple of 2 MiB, got " + bytes + " bytes");
    }
    return bytes;
  }

  private static DirtyLogMode dirtyLog(Config c) {
    boolean manual = bool(c, "vm.dirty-log.manual-protect");
    boolean initiallySet = bool(c, "vm.dirty-log.initially-set");
    if (initiallySet && !manual) {
      throw new SettingsException(
          ROOT + ".vm.dirty-log.initially-set = true needs " + ROOT + ".vm.dirty-log.manual-protect = true");
    }
    return new DirtyLogMode(manual, initiallySet);
  }

  private static boolean bool(Config c, String key) {
    try {
      return c.getBoolean(key);
    } catch (ConfigException.WrongType e) {
      throw new SettingsException(ROOT + "." + key + " must be true or false", e);
    }
  }

  private static int percent(Config c, String key) {
    int value;
    try {
      value = c.getInt(key);
    } catch (ConfigException.WrongType e) {
      throw new SettingsException(ROOT + "." + key + " must be an integer percentage 0-100", e);
    }
    if (value < 0 || value > 100) {
      throw new SettingsException(
          ROOT + "." + key + " must be an integer percentage 0-100, got " + value);
    }
    return value;
  }
}
