//! The model/dataset configurations an episode draws from, and the public
//! datasets they train on with their real sizes. Each configuration is
//! compatible with every bug of every task it is drawn for.

use super::catalogue::{Modality, TaskId};

/// A public dataset as its maintainers publish it: every labelled example of
/// every official split, per class (class names as the episode spells them,
/// sorted, since LabelEncoder sorts). The source of each table is cited above it.
#[derive(Debug)]
pub struct DatasetInfo {
    pub name: &'static str,
    pub classes: &'static [&'static str],
    /// Labelled examples per class, summed over the official splits.
    pub class_totals: &'static [u32],
    /// Tokens per example before truncation (the model's tokenizer, special tokens included):
    /// mean, std, 95th percentile, max. Approximate (+-10%), text only.
    pub tokens: Option<TokenProfile>,
    /// Images: side in pixels and channels as stored.
    pub image: Option<(u32, u32)>,
}

#[derive(Clone, Copy, Debug)]
pub struct TokenProfile {
    pub mean: f64,
    pub std: f64,
    pub p95: u32,
    pub max: u32,
}

impl DatasetInfo {
    pub fn total(&self) -> u32 {
        self.class_totals.iter().sum()
    }

    /// Largest over smallest class total.
    pub fn imbalance(&self) -> f64 {
        let max = self.class_totals.iter().copied().max().unwrap_or(1) as f64;
        let min = self.class_totals.iter().copied().min().unwrap_or(1) as f64;
        max / min
    }
}

// GLUE SST-2 (huggingface.co/datasets/glue, config sst2): train 67,349
// (29,780 negative, 37,569 positive) + validation 872 (428, 444); the test
// split's labels are not published.
pub const SST2: DatasetInfo = DatasetInfo {
    name: "sst2",
    classes: &["negative", "positive"],
    class_totals: &[30_208, 38_013],
    tokens: Some(TokenProfile { mean: 13.3, std: 9.2, p95: 33, max: 66 }),
    image: None,
};

// IMDB (Maas et al. 2011; huggingface.co/datasets/imdb): 25,000 train + 25,000
// test labelled reviews, half of each positive; ~230 words, ~300 WordPiece tokens on average.
pub const IMDB: DatasetInfo = DatasetInfo {
    name: "imdb",
    classes: &["negative", "positive"],
    class_totals: &[25_000, 25_000],
    tokens: Some(TokenProfile { mean: 301.4, std: 224.6, p95: 788, max: 3_127 }),
    image: None,
};

// AG News (Zhang et al. 2015; huggingface.co/datasets/ag_news): 120,000 train +
// 7,600 test, 31,900 per class (World, Sports, Business, Sci/Tech).
pub const AG_NEWS: DatasetInfo = DatasetInfo {
    name: "ag_news",
    classes: &["business", "sci_tech", "sports", "world"],
    class_totals: &[31_900, 31_900, 31_900, 31_900],
    tokens: Some(TokenProfile { mean: 53.2, std: 15.8, p95: 82, max: 231 }),
    image: None,
};

// Amazon Review Polarity (Zhang et al. 2015; huggingface.co/datasets/amazon_polarity):
// 3,600,000 train + 400,000 test, half of each positive.
pub const AMAZON_POLARITY: DatasetInfo = DatasetInfo {
    name: "amazon_polarity",
    classes: &["negative", "positive"],
    class_totals: &[2_000_000, 2_000_000],
    tokens: Some(TokenProfile { mean: 101.7, std: 52.3, p95: 205, max: 434 }),
    image: None,
};

// Yelp Review Polarity (Zhang et al. 2015; huggingface.co/datasets/yelp_polarity):
// 560,000 train + 38,000 test, half of each positive.
pub const YELP_POLARITY: DatasetInfo = DatasetInfo {
    name: "yelp_polarity",
    classes: &["negative", "positive"],
    class_totals: &[299_000, 299_000],
    tokens: Some(TokenProfile { mean: 179.6, std: 164.2, p95: 512, max: 1_829 }),
    image: None,
};

// TweetEval sentiment (Barbieri et al. 2020; huggingface.co/datasets/tweet_eval,
// config sentiment): train 45,615 (7,093 / 20,673 / 17,849), validation 2,000
// (312 / 869 / 819), test 12,284 (3,972 / 5,937 / 2,375).
pub const TWEET_EVAL_SENTIMENT: DatasetInfo = DatasetInfo {
    name: "tweet_eval_sentiment",
    classes: &["negative", "neutral", "positive"],
    class_totals: &[11_377, 27_479, 21_043],
    tokens: Some(TokenProfile { mean: 31.6, std: 12.9, p95: 55, max: 128 }),
    image: None,
};

// DBpedia-14 (Zhang et al. 2015; huggingface.co/datasets/dbpedia_14): 560,000
// train + 70,000 test, 45,000 per class.
pub const DBPEDIA_14: DatasetInfo = DatasetInfo {
    name: "dbpedia_14",
    classes: &[
        "album",
        "animal",
        "artist",
        "athlete",
        "building",
        "company",
        "educational_institution",
        "film",
        "mean_of_transportation",
        "natural_place",
        "office_holder",
        "plant",
        "village",
        "written_work",
    ],
    class_totals: &[45_000; 14],
    tokens: Some(TokenProfile { mean: 66.8, std: 28.4, p95: 116, max: 512 }),
    image: None,
};

// CIFAR-10 (Krizhevsky 2009; cs.toronto.edu/~kriz/cifar.html): 50,000 train +
// 10,000 test 32x32 RGB images, 6,000 per class.
pub const CIFAR10: DatasetInfo = DatasetInfo {
    name: "cifar10",
    classes: &["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    class_totals: &[6_000; 10],
    tokens: None,
    image: Some((32, 3)),
};

// CIFAR-100 (Krizhevsky 2009; cs.toronto.edu/~kriz/cifar.html): 50,000 train +
// 10,000 test 32x32 RGB images, 600 per fine class.
pub const CIFAR100: DatasetInfo = DatasetInfo {
    name: "cifar100",
    classes: &[
        "apple",
        "aquarium_fish",
        "baby",
        "bear",
        "beaver",
        "bed",
        "bee",
        "beetle",
        "bicycle",
        "bottle",
        "bowl",
        "boy",
        "bridge",
        "bus",
        "butterfly",
        "camel",
        "can",
        "castle",
        "caterpillar",
        "cattle",
        "chair",
        "chimpanzee",
        "clock",
        "cloud",
        "cockroach",
        "couch",
        "crab",
        "crocodile",
        "cup",
        "dinosaur",
        "dolphin",
        "elephant",
        "flatfish",
        "forest",
        "fox",
        "girl",
        "hamster",
        "house",
        "kangaroo",
        "keyboard",
        "lamp",
        "lawn_mower",
        "leopard",
        "lion",
        "lizard",
        "lobster",
        "man",
        "maple_tree",
        "motorcycle",
        "mountain",
        "mouse",
        "mushroom",
        "oak_tree",
        "orange",
        "orchid",
        "otter",
        "palm_tree",
        "pear",
        "pickup_truck",
        "pine_tree",
        "plain",
        "plate",
        "poppy",
        "porcupine",
        "possum",
        "rabbit",
        "raccoon",
        "ray",
        "road",
        "rocket",
        "rose",
        "sea",
        "seal",
        "shark",
        "shrew",
        "skunk",
        "skyscraper",
        "snail",
        "snake",
        "spider",
        "squirrel",
        "streetcar",
        "sunflower",
        "sweet_pepper",
        "table",
        "tank",
        "telephone",
        "television",
        "tiger",
        "tractor",
        "train",
        "trout",
        "tulip",
        "turtle",
        "wardrobe",
        "whale",
        "willow_tree",
        "wolf",
        "woman",
        "worm",
    ],
    class_totals: &[600; 100],
    tokens: None,
    image: Some((32, 3)),
};

// Fashion-MNIST (Xiao et al. 2017; github.com/zalandoresearch/fashion-mnist):
// 60,000 train + 10,000 test 28x28 grayscale images, 7,000 per class.
pub const FASHION_MNIST: DatasetInfo = DatasetInfo {
    name: "fashion_mnist",
    classes: &[
        "ankle_boot",
        "bag",
        "coat",
        "dress",
        "pullover",
        "sandal",
        "shirt",
        "sneaker",
        "trouser",
        "tshirt_top",
    ],
    class_totals: &[7_000; 10],
    tokens: None,
    image: Some((28, 1)),
};

// MNIST (LeCun et al. 1998; yann.lecun.com/exdb/mnist): 60,000 train + 10,000
// test 28x28 grayscale digits; per digit train 5,923 6,742 5,958 6,131 5,842
// 5,421 5,918 6,265 5,851 5,949 and test 980 1,135 1,032 1,010 982 892 958 1,028 974 1,009.
pub const MNIST: DatasetInfo = DatasetInfo {
    name: "mnist",
    classes: &[
        "digit_0", "digit_1", "digit_2", "digit_3", "digit_4", "digit_5", "digit_6", "digit_7", "digit_8",
        "digit_9",
    ],
    class_totals: &[6_903, 7_877, 6_990, 7_141, 6_824, 6_313, 6_876, 7_293, 6_825, 6_958],
    tokens: None,
    image: Some((28, 1)),
};

// STL-10 (Coates et al. 2011; cs.stanford.edu/~acoates/stl10): 5,000 train +
// 8,000 test labelled 96x96 RGB images, 1,300 per class (the 100,000
// unlabelled images are not used).
pub const STL10: DatasetInfo = DatasetInfo {
    name: "stl10",
    classes: &["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"],
    class_totals: &[1_300; 10],
    tokens: None,
    image: Some((96, 3)),
};

// Electricity / elec2 (Harries 1999; openml.org/d/151): 45,312 half-hour
// records of the NSW market, 8 features; 26,075 DOWN and 19,237 UP.
pub const ELECTRICITY: DatasetInfo = DatasetInfo {
    name: "electricity",
    classes: &["down", "up"],
    class_totals: &[26_075, 19_237],
    tokens: None,
    image: None,
};

// HIGGS (Baldi et al. 2014; archive.ics.uci.edu/dataset/280/higgs): 11,000,000
// simulated events, 28 features; 5,829,123 signal and 5,170,877 background.
pub const HIGGS: DatasetInfo = DatasetInfo {
    name: "higgs",
    classes: &["background", "signal"],
    class_totals: &[5_170_877, 5_829_123],
    tokens: None,
    image: None,
};

#[derive(Debug)]
pub struct ModelConfig {
    pub model: &'static str,
    pub architecture: &'static str,
    pub family: &'static str,
    pub parameters: u64,
    pub layers: u32,
    pub hidden_size: u32,
    pub dataset: &'static str,
    pub modality: Modality,
    pub task_type: &'static str,
    /// Class names as the raw data spells them (LabelEncoder sorts them).
    pub classes: &'static [&'static str],
    /// The public dataset (dataset and classes above are its name and classes).
    pub data: &'static DatasetInfo,
    /// Range of a random subset's size, for datasets too large to train on in
    /// full here (config.yaml's data.max_samples); None: every labelled example.
    pub subset: Option<(u32, u32)>,
    /// Range of a healthy run's validation accuracy (published results for the model class and data).
    pub accuracy: (f64, f64),
    /// Tokenizer name and vocabulary size (text models only).
    pub tokenizer: Option<(&'static str, u32)>,
    /// Input description: max sequence length, image side, or feature count.
    pub input_size: u32,
    /// A classifier head trained on a frozen encoder's sentence embeddings
    /// (the medium task's text pipelines); the tokenizer is the encoder's.
    pub frozen_encoder: bool,
    /// Activation memory per training sample in bf16 at input_size, MB
    /// (transformers: layers x (34 s h + 5 a s^2) bytes, Korthikanti et al. 2022;
    /// CNNs and MLPs: measured orders of magnitude). fp32 doubles it.
    pub activation_mb: f64,
    /// Training samples per second on one A100 in bf16 (fp32 for tabular models), val pass included.
    pub throughput: f64,
}

impl ModelConfig {
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }
}

/// Parameter counts are the model's with its classification head for the dataset's classes.
pub const CONFIGS: &[ModelConfig] = &[
    // ---- text -------------------------------------------------------------
    ModelConfig {
        model: "distilbert-base-uncased",
        architecture: "DistilBertForSequenceClassification",
        family: "transformer",
        parameters: 66_955_010,
        layers: 6,
        hidden_size: 768,
        dataset: SST2.name,
        modality: Modality::Text,
        task_type: "text-classification",
        classes: SST2.classes,
        data: &SST2,
        subset: None,
        accuracy: (0.89, 0.92),
        tokenizer: Some(("distilbert-base-uncased", 30_522)),
        input_size: 128,
        frozen_encoder: false,
        activation_mb: 26.0,
        throughput: 1_400.0,
    },
    ModelConfig {
        model: "bert-base-uncased",
        architecture: "BertForSequenceClassification",
        family: "transformer",
        parameters: 109_483_778,
        layers: 12,
        hidden_size: 768,
        dataset: IMDB.name,
        modality: Modality::Text,
        task_type: "text-classification",
        classes: IMDB.classes,
        data: &IMDB,
        subset: None,
        accuracy: (0.925, 0.945),
        tokenizer: Some(("bert-base-uncased", 30_522)),
        input_size: 512,
        frozen_encoder: false,
        activation_mb: 350.0,
        throughput: 160.0,
    },
    ModelConfig {
        model: "bert-base-cased",
        architecture: "BertForSequenceClassification",
        family: "transformer",
        parameters: 108_313_348,
        layers: 12,
        hidden_size: 768,
        dataset: AG_NEWS.name,
        modality: Modality::Text,
        task_type: "text-classification",
        classes: AG_NEWS.classes,
        data: &AG_NEWS,
        subset: None,
        accuracy: (0.935, 0.95),
        tokenizer: Some(("bert-base-cased", 28_996)),
        input_size: 128,
        frozen_encoder: false,
        activation_mb: 52.0,
        throughput: 800.0,
    },
    ModelConfig {
        model: "deberta-v3-small",
        architecture: "DebertaV2ForSequenceClassification",
        family: "transformer",
        parameters: 141_892_610,
        layers: 6,
        hidden_size: 768,
        dataset: AMAZON_POLARITY.name,
        modality: Modality::Text,
        task_type: "text-classification",
        classes: AMAZON_POLARITY.classes,
        data: &AMAZON_POLARITY,
        subset: Some((80_000, 120_000)),
        accuracy: (0.95, 0.965),
        tokenizer: Some(("deberta-v3-small", 128_100)),
        input_size: 256,
        frozen_encoder: false,
        activation_mb: 90.0,
        throughput: 500.0,
    },
    ModelConfig {
        model: "albert-base-v2",
        architecture: "AlbertForSequenceClassification",
        family: "transformer",
        parameters: 11_685_122,
        layers: 12,
        hidden_size: 768,
        dataset: YELP_POLARITY.name,
        modality: Modality::Text,
        task_type: "text-classification",
        classes: YELP_POLARITY.classes,
        data: &YELP_POLARITY,
        subset: Some((80_000, 120_000)),
        accuracy: (0.945, 0.965),
        tokenizer: Some(("albert-base-v2", 30_000)),
        input_size: 256,
        frozen_encoder: false,
        activation_mb: 127.0,
        throughput: 450.0,
    },
    ModelConfig {
        model: "electra-small-discriminator",
        architecture: "ElectraForSequenceClassification",
        family: "transformer",
        parameters: 13_549_827,
        layers: 12,
        hidden_size: 256,
        dataset: TWEET_EVAL_SENTIMENT.name,
        modality: Modality::Text,
        task_type: "text-classification",
        classes: TWEET_EVAL_SENTIMENT.classes,
        data: &TWEET_EVAL_SENTIMENT,
        subset: None,
        accuracy: (0.67, 0.71),
        tokenizer: Some(("electra-small-discriminator", 30_522)),
        input_size: 96,
        frozen_encoder: false,
        activation_mb: 12.0,
        throughput: 3_500.0,
    },
    ModelConfig {
        model: "all-minilm-l12-v2",
        architecture: "BertForSequenceClassification",
        family: "transformer",
        parameters: 33_365_390,
        layers: 12,
        hidden_size: 384,
        dataset: DBPEDIA_14.name,
        modality: Modality::Text,
        task_type: "text-classification",
        classes: DBPEDIA_14.classes,
        data: &DBPEDIA_14,
        subset: Some((60_000, 100_000)),
        accuracy: (0.985, 0.992),
        tokenizer: Some(("all-minilm-l12-v2", 30_522)),
        input_size: 256,
        frozen_encoder: false,
        activation_mb: 87.0,
        throughput: 1_600.0,
    },
    ModelConfig {
        model: "minilm-l12-embedding-mlp",
        architecture: "EmbeddingMLPClassifier",
        family: "mlp",
        // the trainable head: 384 -> 256 -> 3
        parameters: 99_331,
        layers: 2,
        hidden_size: 256,
        dataset: TWEET_EVAL_SENTIMENT.name,
        modality: Modality::Text,
        task_type: "text-classification",
        classes: TWEET_EVAL_SENTIMENT.classes,
        data: &TWEET_EVAL_SENTIMENT,
        subset: None,
        accuracy: (0.62, 0.66),
        tokenizer: Some(("all-minilm-l12-v2", 30_522)),
        input_size: 128,
        frozen_encoder: true,
        activation_mb: 0.01,
        throughput: 20_000.0,
    },
    // ---- image ------------------------------------------------------------
    ModelConfig {
        model: "resnet18",
        architecture: "ResNet",
        family: "cnn",
        parameters: 11_181_642,
        layers: 18,
        hidden_size: 512,
        dataset: CIFAR10.name,
        modality: Modality::Image,
        task_type: "image-classification",
        classes: CIFAR10.classes,
        data: &CIFAR10,
        subset: None,
        accuracy: (0.93, 0.955),
        tokenizer: None,
        input_size: 32,
        frozen_encoder: false,
        activation_mb: 6.0,
        throughput: 9_000.0,
    },
    ModelConfig {
        model: "resnet18",
        architecture: "ResNet",
        family: "cnn",
        parameters: 11_227_812,
        layers: 18,
        hidden_size: 512,
        dataset: CIFAR100.name,
        modality: Modality::Image,
        task_type: "image-classification",
        classes: CIFAR100.classes,
        data: &CIFAR100,
        subset: None,
        accuracy: (0.75, 0.78),
        tokenizer: None,
        input_size: 32,
        frozen_encoder: false,
        activation_mb: 6.0,
        throughput: 9_000.0,
    },
    ModelConfig {
        model: "vit_small_patch16_224",
        architecture: "VisionTransformer",
        family: "transformer",
        parameters: 21_669_514,
        layers: 12,
        hidden_size: 384,
        dataset: FASHION_MNIST.name,
        modality: Modality::Image,
        task_type: "image-classification",
        classes: FASHION_MNIST.classes,
        data: &FASHION_MNIST,
        subset: None,
        accuracy: (0.93, 0.945),
        tokenizer: None,
        input_size: 224,
        frozen_encoder: false,
        activation_mb: 45.0,
        throughput: 1_100.0,
    },
    ModelConfig {
        model: "mobilenet_v3_small",
        architecture: "MobileNetV3",
        family: "cnn",
        parameters: 1_528_106,
        layers: 52,
        hidden_size: 576,
        dataset: MNIST.name,
        modality: Modality::Image,
        task_type: "image-classification",
        classes: MNIST.classes,
        data: &MNIST,
        subset: None,
        accuracy: (0.99, 0.995),
        tokenizer: None,
        input_size: 32,
        frozen_encoder: false,
        activation_mb: 1.0,
        throughput: 12_000.0,
    },
    ModelConfig {
        model: "convnext_tiny",
        architecture: "ConvNeXt",
        family: "cnn",
        parameters: 27_827_818,
        layers: 18,
        hidden_size: 768,
        dataset: STL10.name,
        modality: Modality::Image,
        task_type: "image-classification",
        classes: STL10.classes,
        data: &STL10,
        subset: None,
        accuracy: (0.93, 0.96),
        tokenizer: None,
        input_size: 96,
        frozen_encoder: false,
        activation_mb: 27.0,
        throughput: 1_800.0,
    },
    // ---- tabular ----------------------------------------------------------
    ModelConfig {
        model: "mlp_3x256",
        architecture: "MLP",
        family: "mlp",
        parameters: 134_402,
        layers: 3,
        hidden_size: 256,
        dataset: ELECTRICITY.name,
        modality: Modality::Tabular,
        task_type: "tabular-classification",
        classes: ELECTRICITY.classes,
        data: &ELECTRICITY,
        subset: None,
        accuracy: (0.80, 0.86),
        tokenizer: None,
        input_size: 8,
        frozen_encoder: false,
        activation_mb: 0.05,
        throughput: 40_000.0,
    },
    ModelConfig {
        model: "ft_transformer",
        architecture: "FTTransformer",
        family: "transformer",
        parameters: 913_922,
        layers: 3,
        hidden_size: 192,
        dataset: HIGGS.name,
        modality: Modality::Tabular,
        task_type: "tabular-classification",
        classes: HIGGS.classes,
        data: &HIGGS,
        subset: Some((200_000, 500_000)),
        accuracy: (0.72, 0.76),
        tokenizer: None,
        input_size: 28,
        frozen_encoder: false,
        activation_mb: 0.05,
        throughput: 12_000.0,
    },
    ModelConfig {
        model: "resnet_mlp",
        architecture: "TabularResNet",
        family: "mlp",
        parameters: 612_354,
        layers: 8,
        hidden_size: 256,
        dataset: HIGGS.name,
        modality: Modality::Tabular,
        task_type: "tabular-classification",
        classes: HIGGS.classes,
        data: &HIGGS,
        subset: Some((200_000, 500_000)),
        accuracy: (0.72, 0.755),
        tokenizer: None,
        input_size: 28,
        frozen_encoder: false,
        activation_mb: 0.05,
        throughput: 30_000.0,
    },
];

/// Highest healthy accuracy a medium-task configuration may reach: leakage
/// must have room to inflate val above what the model really does.
pub const MEDIUM_MAX_ACCURACY: f64 = 0.90;

/// Indices into CONFIGS of the configurations a task may use.
pub fn configs_for(task: TaskId) -> Vec<u8> {
    CONFIGS
        .iter()
        .enumerate()
        .filter(|(_, c)| task.modalities().contains(&c.modality))
        .filter(|(_, c)| task != TaskId::Medium || c.accuracy.1 <= MEDIUM_MAX_ACCURACY)
        // the medium task's text pipelines embed with a frozen encoder; the others fine-tune
        .filter(|(_, c)| c.modality != Modality::Text || c.frozen_encoder == (task == TaskId::Medium))
        .map(|(i, _)| i as u8)
        .collect()
}
