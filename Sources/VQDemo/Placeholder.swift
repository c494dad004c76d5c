public enum VQDemoPlaceholder {}
