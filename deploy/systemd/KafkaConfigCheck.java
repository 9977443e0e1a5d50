/*
 * Checks server.properties files with Apache Kafka's own configuration model, offline:
 * every key must be one Kafka knows (a broker or controller config, a listener-prefixed
 * one, or the StandardAuthorizer's), and KafkaConfig must accept the whole (roles, node id
 * among the voters, listeners and their security protocols, SASL mechanisms, types).
 *
 *   java -cp '/opt/kafka/libs/*' KafkaConfigCheck.java /etc/kafka/server.properties
 *   java -cp 'deploy/kafka/.cache/libs/*' deploy/systemd/KafkaConfigCheck.java deploy/systemd/server-*.properties
 *
 * One line per file: "OK <file>" or "FAIL <file>: <reason>"; exit 1 when one failed.
 * The JAAS file and the TLS files are not read: only the configuration is checked.
 */

import java.io.IOException;
import java.io.Reader;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;

public final class KafkaConfigCheck {
    static final String AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: java -cp 'KAFKA/libs/*' KafkaConfigCheck.java FILE...");
            System.exit(2);
        }
        Set<String> known = new HashSet<>(kafka.server.KafkaConfig.configDef().names());
        known.addAll(constants(AUTHORIZER));
        int failed = 0;
        for (String file : args) {
            Properties properties = new Properties();
            try (Reader reader = Files.newBufferedReader(Path.of(file), StandardCharsets.UTF_8)) {
                properties.load(reader);
            } catch (IOException e) {
                System.out.println("FAIL " + file + ": cannot read: " + e.getMessage());
                failed++;
                continue;
            }
            List<String> unknown = new ArrayList<>();
            for (String key : properties.stringPropertyNames()) {
                if (!known.contains(key) && !known.contains(unprefixed(key))) {
                    unknown.add(key);
                }
            }
            String problem = unknown.isEmpty() ? null : "keys Kafka does not know: " + unknown;
            if (problem == null) {
                try {
                    kafka.server.KafkaConfig.fromProps(properties, false);
                } catch (RuntimeException e) {
                    problem = e.getClass().getSimpleName() + ": " + e.getMessage();
                }
            }
            if (problem == null) {
                System.out.println("OK " + file);
            } else {
                System.out.println("FAIL " + file + ": " + problem);
                failed++;
            }
        }
        System.exit(failed == 0 ? 0 : 1);
    }

    /** listener.name.controller.plain.sasl.jaas.config -> sasl.jaas.config, and so on. */
    static String unprefixed(String key) {
        if (!key.startsWith("listener.name.")) {
            return key;
        }
        String[] parts = key.split("\\.", 4);  // listener, name, <listener>, rest
        if (parts.length < 4) {
            return key;
        }
        String rest = parts[3];
        // a mechanism-scoped key: <mechanism>.sasl.jaas.config, <mechanism>.sasl.server...
        int sasl = rest.indexOf(".sasl.");
        return sasl > 0 && !rest.startsWith("sasl.") ? rest.substring(sasl + 1) : rest;
    }

    /** The values of a class's public static String fields named *_CONFIG. */
    static Set<String> constants(String className) throws ClassNotFoundException, IllegalAccessException {
        Set<String> names = new HashSet<>();
        for (Field field : Class.forName(className).getFields()) {
            if (Modifier.isStatic(field.getModifiers()) && field.getType() == String.class
                    && field.getName().endsWith("_CONFIG")) {
                names.add((String) field.get(null));
            }
        }
        return names;
    }
}
