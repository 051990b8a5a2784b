// Kafka's own keyed placement, for tests/clients/test_partitioner_java.py. Run with the JDK's single-file
// source launcher (Java 11+, no javac step):
//
//   java -cp "$K2_KAFKA_LIB/*" tests/clients/java/Partitions.java 1 7 30 40 100 < keys.hex
//
// Reads one key per line on stdin, as hex-encoded bytes (the UTF-8 of a symbol), and prints one line per key:
// Utils.murmur2(key) followed by BuiltInPartitioner.partitionForKey(key, n) for each partition count n given
// as an argument. partitionForKey (public static in kafka-clients 4.1.1, checked with javap) is what the Java
// producer calls for a keyed record when no custom partitioner is set: toPositive(murmur2(key)) % n.

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.utils.Utils;

public class Partitions {
    public static void main(String[] args) throws IOException {
        if (args.length == 0) {
            System.err.println("usage: Partitions N [N...] < one hex-encoded key per line");
            System.exit(2);
        }
        int[] counts = new int[args.length];
        for (int i = 0; i < args.length; i++) {
            counts[i] = Integer.parseInt(args[i]);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
        StringBuilder out = new StringBuilder();
        String line;
        while ((line = in.readLine()) != null) {
            byte[] key = hex(line.trim());
            out.append(Utils.murmur2(key));
            for (int n : counts) {
                out.append(' ').append(BuiltInPartitioner.partitionForKey(key, n));
            }
            out.append('\n');
        }
        System.out.print(out);
        System.out.flush();
    }

    private static byte[] hex(String text) {
        if (text.length() % 2 != 0) {
            throw new IllegalArgumentException("odd-length hex: " + text);
        }
        byte[] bytes = new byte[text.length() / 2];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) Integer.parseInt(text.substring(2 * i, 2 * i + 2), 16);
        }
        return bytes;
    }
}
