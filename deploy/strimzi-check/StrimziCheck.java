/*
 * Offline check of Strimzi custom resources against Strimzi's own model (io.strimzi:api),
 * strictly: an unknown field or a value of the wrong type fails.
 *
 *   java -cp '.cache/classes:.cache/libs/*' StrimziCheck FILE.yaml...
 *
 * Each YAML document whose apiVersion is kafka.strimzi.io/<version> is read into the model
 * class of its kind (Kafka, KafkaNodePool, KafkaTopic, KafkaUser, ...), which must serve
 * that version. Documents of other API groups are reported as skipped. One line per
 * document on stdout:
 *
 *   OK   <file> #<n> <Kind>/<name>
 *   FAIL <file> #<n> <Kind>/<name>: <what is wrong, with its path>
 *   SKIP <file> #<n> <apiVersion> <Kind>/<name>
 *
 * Exit 0 when nothing failed, 1 when a document failed, 2 when a file cannot be read.
 *
 * Strict reading is more than FAIL_ON_UNKNOWN_PROPERTIES: Strimzi's model classes keep
 * unknown fields in additionalProperties through a Jackson any-setter (the operator
 * preserves them and warns), so the any-setters are switched off here, scalars are not
 * coerced (partitions: "three", or "3", is not an integer), and every document is written
 * back from the model and compared with what was read: a value the model dropped,
 * changed or could not represent (an enum it read as null) fails too.
 */

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.introspect.Annotated;
import com.fasterxml.jackson.databind.introspect.JacksonAnnotationIntrospector;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.strimzi.api.kafka.model.bridge.KafkaBridge;
import io.strimzi.api.kafka.model.connect.KafkaConnect;
import io.strimzi.api.kafka.model.connector.KafkaConnector;
import io.strimzi.api.kafka.model.kafka.Kafka;
import io.strimzi.api.kafka.model.mirrormaker2.KafkaMirrorMaker2;
import io.strimzi.api.kafka.model.nodepool.KafkaNodePool;
import io.strimzi.api.kafka.model.rebalance.KafkaRebalance;
import io.strimzi.api.kafka.model.topic.KafkaTopic;
import io.strimzi.api.kafka.model.user.KafkaUser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

public final class StrimziCheck {
    static final String GROUP = "kafka.strimzi.io";
    static final Map<String, Class<?>> KINDS = Map.of(
            "Kafka", Kafka.class,
            "KafkaNodePool", KafkaNodePool.class,
            "KafkaTopic", KafkaTopic.class,
            "KafkaUser", KafkaUser.class,
            "KafkaConnect", KafkaConnect.class,
            "KafkaConnector", KafkaConnector.class,
            "KafkaMirrorMaker2", KafkaMirrorMaker2.class,
            "KafkaBridge", KafkaBridge.class,
            "KafkaRebalance", KafkaRebalance.class);

    /**
     * Switches off every @JsonAnySetter, so unknown fields reach FAIL_ON_UNKNOWN_PROPERTIES,
     * and every @JsonInclude, so the model writes back all it holds.
     */
    static final class NoAnySetter extends JacksonAnnotationIntrospector {
        private static final long serialVersionUID = 1L;

        @Override
        public Boolean hasAnySetter(Annotated member) {
            return Boolean.FALSE;
        }

        /** Writes every property back, defaults too, for the comparison with what was read. */
        @Override
        public JsonInclude.Value findPropertyInclusion(Annotated member) {
            return JsonInclude.Value.construct(JsonInclude.Include.ALWAYS, JsonInclude.Include.ALWAYS);
        }
    }

    static ObjectMapper strictMapper() {
        JsonMapper mapper = JsonMapper.builder()
                .annotationIntrospector(new NoAnySetter())
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
                .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
                .disable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY)
                .build();
        for (LogicalType type : new LogicalType[] {LogicalType.Integer, LogicalType.Float,
                LogicalType.Boolean}) {
            mapper.coercionConfigFor(type).setCoercion(CoercionInputShape.String, CoercionAction.Fail);
        }
        for (CoercionInputShape shape : new CoercionInputShape[] {CoercionInputShape.Integer,
                CoercionInputShape.Float, CoercionInputShape.Boolean}) {
            mapper.coercionConfigFor(LogicalType.Textual).setCoercion(shape, CoercionAction.Fail);
        }
        mapper.coercionConfigFor(LogicalType.Integer)
                .setCoercion(CoercionInputShape.Float, CoercionAction.Fail);
        return mapper;
    }

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: StrimziCheck FILE.yaml...");
            System.exit(2);
        }
        ObjectMapper strict = strictMapper();
        YAMLMapper yaml = new YAMLMapper(new YAMLFactory());
        int failed = 0;
        int checked = 0;
        for (String file : args) {
            List<JsonNode> documents = new ArrayList<>();
            try {
                String text = Files.readString(Path.of(file));
                Iterator<JsonNode> each = yaml.readerFor(JsonNode.class).readValues(text);
                while (each.hasNext()) {
                    JsonNode document = each.next();
                    if (document != null && !document.isNull() && !document.isMissingNode()) {
                        documents.add(document);
                    }
                }
            } catch (IOException | RuntimeException e) {
                System.out.println("FAIL " + file + " #0 -: cannot read: " + e.getMessage());
                System.exit(2);
            }
            for (int i = 0; i < documents.size(); i++) {
                JsonNode document = documents.get(i);
                String where = file + " #" + (i + 1) + " " + document.path("kind").asText("?")
                        + "/" + document.path("metadata").path("name").asText("?");
                String apiVersion = document.path("apiVersion").asText("");
                if (!apiVersion.startsWith(GROUP + "/")) {
                    System.out.println("SKIP " + where + " (" + apiVersion + ")");
                    continue;
                }
                checked++;
                String problem = check(strict, document, apiVersion.substring(GROUP.length() + 1));
                if (problem == null) {
                    System.out.println("OK   " + where);
                } else {
                    failed++;
                    System.out.println("FAIL " + where + ": " + problem);
                }
            }
        }
        System.err.println("StrimziCheck: " + checked + " Strimzi resource(s), " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }

    /** What is wrong with one document, or null. */
    static String check(ObjectMapper strict, JsonNode document, String version) {
        String kind = document.path("kind").asText("");
        Class<?> type = KINDS.get(kind);
        if (type == null) {
            return "unknown kind '" + kind + "'; Strimzi's are " + KINDS.keySet();
        }
        List<String> served = servedVersions(type);
        if (!served.contains(version)) {
            return kind + " is served as " + served + ", not " + version;
        }
        Object model;
        try {
            model = strict.treeToValue(document, type);
        } catch (JsonMappingException e) {
            return at(e) + e.getOriginalMessage().split("\n")[0];
        } catch (JsonProcessingException e) {
            return e.getOriginalMessage();
        }
        if (!document.has("spec") || document.get("spec").isNull()) {
            return "no spec";
        }
        // the model writes its own newest apiVersion back; the version was checked above
        ObjectNode read = document.deepCopy();
        read.remove("apiVersion");
        return compare(read, strict.valueToTree(model), "");
    }

    @SuppressWarnings("unchecked")
    static List<String> servedVersions(Class<?> type) {
        try {
            return (List<String>) type.getField("VERSIONS").get(null);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(type + " has no VERSIONS", e);
        }
    }

    static String at(JsonMappingException e) {
        StringBuilder path = new StringBuilder();
        for (JsonMappingException.Reference ref : e.getPath()) {
            if (ref.getFieldName() != null) {
                path.append(path.length() == 0 ? "" : ".").append(ref.getFieldName());
            } else if (ref.getIndex() >= 0) {
                path.append('[').append(ref.getIndex()).append(']');
            }
        }
        return path.length() == 0 ? "" : path + ": ";
    }

    /** The first value of read that written (the model's own rendering) lost or changed. */
    static String compare(JsonNode read, JsonNode written, String path) {
        String here = path.isEmpty() ? "(top)" : path;
        if (written == null || written.isMissingNode() || written.isNull() && !read.isNull()) {
            return here + ": not kept by the model (unknown field or unknown value '"
                    + (read.isValueNode() ? read.asText() : read.getNodeType()) + "')";
        }
        if (read.isObject()) {
            if (!written.isObject()) {
                return here + ": an object where the model has " + written.getNodeType();
            }
            for (Map.Entry<String, JsonNode> field : read.properties()) {
                String problem = compare(field.getValue(), written.get(field.getKey()),
                        path.isEmpty() ? field.getKey() : path + "." + field.getKey());
                if (problem != null) {
                    return problem;
                }
            }
            return null;
        }
        if (read.isArray()) {
            if (!written.isArray() || written.size() != read.size()) {
                return here + ": the list was not kept as written";
            }
            for (int i = 0; i < read.size(); i++) {
                String problem = compare(read.get(i), written.get(i), path + "[" + i + "]");
                if (problem != null) {
                    return problem;
                }
            }
            return null;
        }
        if (read.isNumber() && written.isNumber()) {
            return read.decimalValue().compareTo(written.decimalValue()) == 0 ? null
                    : here + ": " + read + " became " + written;
        }
        if (read.getNodeType() != written.getNodeType() || !read.equals(written)) {
            return here + ": " + read + " (" + read.getNodeType() + ") became " + written
                    + " (" + written.getNodeType() + ")";
        }
        return null;
    }
}
