/// The version of logit-prisms: `prism --version`. Raised with every release of the file
/// formats or outputs (the formats carry their own version numbers too).
public enum PrismVersion {
    public static let string = "0.4.0"
}
