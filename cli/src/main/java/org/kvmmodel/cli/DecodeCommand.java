package org.kvmmodel.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import org.kvmmodel.api.ArchConfiguration;
import org.kvmmodel.api.ArchPlugin;
import org.kvmmodel.api.pt.DecodedDescriptor;
import org.kvmmodel.api.pt.DescriptorField;
import org.kvmmodel.api.pt.DescriptorFormat;
import org.kvmmodel.core.plugin.ArchPluginRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code kvmmodel decode}: takes one stage-2 descriptor apart in an architecture's format, the
 * way its KVM code reads it (for x86, the predicates of {@code arch/x86/kvm/mmu/spte.h}).
 */
@Command(
    name = "decode",
    mixinStandardHelpOptions = true,
    description = "Decode one stage-2 page-table descriptor of an architecture.")
final class DecodeCommand implements Callable<Integer> {

  /** Output formats. */
  enum Format {
    text,
    json
  }

  @Spec private CommandSpec spec;

  @Option(names = "--arch", required = true, paramLabel = "NAME", description = "Architecture plugin, e.g. x86.")
  private String arch;

  @Option(
      names = "--arch-config",
      paramLabel = "NAME",
      description = "Configuration of the architecture (default: its first, see 'kvmmodel list').")
  private String config;

  @Option(
      names = "--level",
      paramLabel = "L",
      description = "Level the descriptor sits at, in the architecture's kernel numbering.")
  private Integer level;

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      defaultValue = "text",
      description = "Output format: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
  private Format format;

  @Parameters(index = "0", paramLabel = "VALUE", description = "The descriptor, hex (0x...) or decimal.")
  private String value;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      ArchPlugin plugin = ArchPluginRegistry.discover(Main.class.getClassLoader()).require(arch);
      ArchConfiguration configuration =
          config == null ? plugin.configurations().get(0) : plugin.configuration(config);
      DescriptorFormat descriptors = plugin.descriptorFormat(configuration);
      long raw = parseValue(value);
      OptionalInt at = checkLevel(plugin, configuration, descriptors);
      DecodedDescriptor decoded = descriptors.decode(raw, at);
      if (format == Format.json) {
        out.println(json(plugin, configuration, descriptors, decoded));
      } else {
        text(out, plugin, configuration, descriptors, decoded);
      }
      out.flush();
      return 0;
    } catch (IllegalArgumentException e) {
      err.println("kvmmodel decode: " + e.getMessage());
      err.flush();
      return Main.EXIT_USAGE;
    }
  }

  private OptionalInt checkLevel(
      ArchPlugin plugin, ArchConfiguration configuration, DescriptorFormat descriptors) {
    if (level == null) {
      if (descriptors.levelRequired()) {
        throw new IllegalArgumentException(
            String.format(
                Locale.US,
                "--level is required for %s %s: a descriptor's meaning depends on its level (%d..%d)",
                plugin.name(), configuration.name(), descriptors.minLevel(), descriptors.maxLevel()));
      }
      return OptionalInt.empty();
    }
    if (level < descriptors.minLevel() || level > descriptors.maxLevel()) {
      throw new IllegalArgumentException(
          String.format(
              Locale.US,
              "level %d is out of range for %s %s (%d..%d)",
              level, plugin.name(), configuration.name(),
              descriptors.minLevel(), descriptors.maxLevel()));
    }
    return OptionalInt.of(level);
  }

  static long parseValue(String text) {
    String digits = text.trim();
    try {
      if (digits.startsWith("0x") || digits.startsWith("0X")) {
        String hex = digits.substring(2).replace("_", "");
        if (hex.isEmpty() || hex.length() > 16) {
          throw new NumberFormatException();
        }
        return Long.parseUnsignedLong(hex, 16);
      }
      if (digits.isEmpty() || !Character.isDigit(digits.charAt(0))) {
        throw new NumberFormatException();
      }
      return Long.parseUnsignedLong(digits);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "cannot parse '" + text + "' as a 64-bit descriptor (hex 0x... or unsigned decimal)");
    }
  }

  private static void text(
      PrintWriter out,
      ArchPlugin plugin,
      ArchConfiguration configuration,
      DescriptorFormat descriptors,
      DecodedDescriptor decoded) {
    int width = "config:".length();
    for (DescriptorField field : decoded.fields()) {
      width = Math.max(width, label(field).length());
    }
    String line = "%-" + (width + 1) + "s %s%n";
    out.printf(Locale.US, line, "arch:", plugin.name());
    out.printf(Locale.US, line, "config:", configuration.name() + " (" + descriptors.name() + ")");
    for (DescriptorField field : decoded.fields()) {
      out.printf(Locale.US, line, label(field), field.value());
    }
  }

  private static String label(DescriptorField field) {
    return (field.bits().isEmpty() ? field.name() : field.name() + " [" + field.bits() + "]") + ":";
  }

  private static String json(
      ArchPlugin plugin,
      ArchConfiguration configuration,
      DescriptorFormat descriptors,
      DecodedDescriptor decoded) {
    StringWriter buffer = new StringWriter();
    try (JsonGenerator json = new JsonFactory().createGenerator(buffer)) {
      json.writeStartObject();
      json.writeStringField("arch", plugin.name());
      json.writeStringField("config", configuration.name());
      json.writeStringField("format", descriptors.name());
      json.writeStringField("value", String.format(Locale.US, "%#x", decoded.value()));
      if (decoded.level().isPresent()) {
        json.writeNumberField("level", decoded.level().getAsInt());
      }
      json.writeStringField("kind", decoded.kind().label());
      json.writeBooleanField("valid", decoded.valid());
      json.writeBooleanField("leaf", decoded.leaf());
      json.writeBooleanField("table", decoded.table());
      json.writeBooleanField("readable", decoded.readable());
      json.writeBooleanField("writable", decoded.writable());
      json.writeBooleanField("executable", decoded.executable());
      json.writeBooleanField("accessed", decoded.accessed());
      json.writeBooleanField("dirty", decoded.dirty());
      if (decoded.outputAddress().isPresent()) {
        json.writeStringField(
            "outputAddress", String.format(Locale.US, "%#x", decoded.outputAddress().getAsLong()));
      }
      if (decoded.mappingSize().isPresent()) {
        json.writeNumberField("mappingSize", decoded.mappingSize().getAsLong());
      }
      if (decoded.mmioGeneration().isPresent()) {
        json.writeNumberField("mmioGeneration", decoded.mmioGeneration().getAsLong());
      }
      json.writeArrayFieldStart("fields");
      for (DescriptorField field : decoded.fields()) {
        json.writeStartObject();
        json.writeStringField("name", field.name());
        json.writeStringField("bits", field.bits());
        json.writeStringField("value", field.value());
        json.writeEndObject();
      }
      json.writeEndArray();
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return buffer.toString();
  }
}
