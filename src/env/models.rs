//! The model/dataset configurations an episode draws from. Each is compatible
//! with every bug of every task whose modalities include it.

use super::catalogue::Modality;

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
    /// Range of the number of samples (at least 25,000, so that even a 0.9
    /// test_size leaves a training split of at least 2,000).
    pub samples: (u32, u32),
    /// Range of a healthy run's validation accuracy.
    pub accuracy: (f64, f64),
    /// Tokenizer name and vocabulary size (text models only).
    pub tokenizer: Option<(&'static str, u32)>,
    /// Input description: max sequence length, image side, or feature count.
    pub input_size: u32,
    /// Typical seconds per epoch of a healthy run.
    pub epoch_seconds: (f64, f64),
}

impl ModelConfig {
    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }
}

const BINARY_SENTIMENT: &[&str] = &["negative", "positive"];

pub const CONFIGS: &[ModelConfig] = &[
    // ---- text -------------------------------------------------------------
    ModelConfig {
        model: "distilbert-base-uncased", architecture: "DistilBertForSequenceClassification",
        family: "transformer", parameters: 66_955_010, layers: 6, hidden_size: 768,
        dataset: "sst2", modality: Modality::Text, task_type: "text-classification",
        classes: BINARY_SENTIMENT, samples: (60_000, 68_000), accuracy: (0.86, 0.92),
        tokenizer: Some(("distilbert-base-uncased", 30_522)), input_size: 128, epoch_seconds: (140.0, 260.0),
    },
    ModelConfig {
        model: "bert-base-uncased", architecture: "BertForSequenceClassification",
        family: "transformer", parameters: 109_483_778, layers: 12, hidden_size: 768,
        dataset: "imdb", modality: Modality::Text, task_type: "text-classification",
        classes: BINARY_SENTIMENT, samples: (40_000, 50_000), accuracy: (0.88, 0.94),
        tokenizer: Some(("bert-base-uncased", 30_522)), input_size: 512, epoch_seconds: (600.0, 1100.0),
    },
    ModelConfig {
        model: "roberta-base", architecture: "RobertaForSequenceClassification",
        family: "transformer", parameters: 124_648_708, layers: 12, hidden_size: 768,
        dataset: "ag_news", modality: Modality::Text, task_type: "text-classification",
        classes: &["business", "sci_tech", "sports", "world"], samples: (100_000, 127_600),
        accuracy: (0.89, 0.95), tokenizer: Some(("roberta-base", 50_265)), input_size: 256,
        epoch_seconds: (700.0, 1300.0),
    },
    ModelConfig {
        model: "deberta-v3-small", architecture: "DebertaV2ForSequenceClassification",
        family: "transformer", parameters: 141_895_686, layers: 6, hidden_size: 768,
        dataset: "emotion", modality: Modality::Text, task_type: "text-classification",
        classes: &["anger", "fear", "joy", "love", "sadness", "surprise"], samples: (25_000, 32_000),
        accuracy: (0.86, 0.93), tokenizer: Some(("deberta-v3-small", 128_000)), input_size: 128,
        epoch_seconds: (90.0, 200.0),
    },
    ModelConfig {
        model: "albert-base-v2", architecture: "AlbertForSequenceClassification",
        family: "transformer", parameters: 11_685_122, layers: 12, hidden_size: 768,
        dataset: "yelp_polarity", modality: Modality::Text, task_type: "text-classification",
        classes: BINARY_SENTIMENT, samples: (80_000, 120_000), accuracy: (0.88, 0.94),
        tokenizer: Some(("albert-base-v2", 30_000)), input_size: 256, epoch_seconds: (500.0, 900.0),
    },
    ModelConfig {
        model: "electra-small-discriminator", architecture: "ElectraForSequenceClassification",
        family: "transformer", parameters: 13_549_827, layers: 12, hidden_size: 256,
        dataset: "tweet_eval_sentiment", modality: Modality::Text, task_type: "text-classification",
        classes: &["negative", "neutral", "positive"], samples: (45_000, 60_000), accuracy: (0.75, 0.84),
        tokenizer: Some(("electra-small-discriminator", 30_522)), input_size: 96,
        epoch_seconds: (60.0, 140.0),
    },
    ModelConfig {
        model: "all-minilm-l12-v2", architecture: "BertForSequenceClassification",
        family: "transformer", parameters: 33_371_918, layers: 12, hidden_size: 384,
        dataset: "dbpedia_14", modality: Modality::Text, task_type: "text-classification",
        classes: &[
            "album", "animal", "artist", "athlete", "building", "company", "educational_institution",
            "film", "mean_of_transportation", "natural_place", "office_holder", "plant", "village",
            "written_work",
        ],
        samples: (60_000, 100_000), accuracy: (0.90, 0.96), tokenizer: Some(("all-minilm-l12-v2", 30_522)),
        input_size: 256, epoch_seconds: (200.0, 420.0),
    },
    // ---- image ------------------------------------------------------------
    ModelConfig {
        model: "resnet18", architecture: "ResNet", family: "cnn", parameters: 11_181_642, layers: 18,
        hidden_size: 512, dataset: "cifar10", modality: Modality::Image, task_type: "image-classification",
        classes: &["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
        samples: (50_000, 60_000), accuracy: (0.86, 0.94), tokenizer: None, input_size: 32,
        epoch_seconds: (25.0, 70.0),
    },
    ModelConfig {
        model: "efficientnet_b0", architecture: "EfficientNet", family: "cnn", parameters: 4_020_358,
        layers: 82, hidden_size: 1280, dataset: "eurosat", modality: Modality::Image,
        task_type: "image-classification",
        classes: &[
            "annual_crop", "forest", "herbaceous_vegetation", "highway", "industrial", "pasture",
            "permanent_crop", "residential", "river", "sea_lake",
        ],
        samples: (25_000, 27_000), accuracy: (0.93, 0.98), tokenizer: None, input_size: 64,
        epoch_seconds: (40.0, 90.0),
    },
    ModelConfig {
        model: "vit_small_patch16_224", architecture: "VisionTransformer", family: "transformer",
        parameters: 21_669_514, layers: 12, hidden_size: 384, dataset: "fashion_mnist",
        modality: Modality::Image, task_type: "image-classification",
        classes: &[
            "ankle_boot", "bag", "coat", "dress", "pullover", "sandal", "shirt", "sneaker", "trouser",
            "tshirt_top",
        ],
        samples: (60_000, 70_000), accuracy: (0.89, 0.94), tokenizer: None, input_size: 224,
        epoch_seconds: (180.0, 360.0),
    },
    ModelConfig {
        model: "mobilenet_v3_small", architecture: "MobileNetV3", family: "cnn", parameters: 1_528_106,
        layers: 52, hidden_size: 576, dataset: "svhn", modality: Modality::Image,
        task_type: "image-classification",
        classes: &[
            "digit_0", "digit_1", "digit_2", "digit_3", "digit_4", "digit_5", "digit_6", "digit_7",
            "digit_8", "digit_9",
        ],
        samples: (73_000, 99_000), accuracy: (0.91, 0.96), tokenizer: None, input_size: 32,
        epoch_seconds: (30.0, 80.0),
    },
    ModelConfig {
        model: "convnext_tiny", architecture: "ConvNeXt", family: "cnn", parameters: 27_827_818,
        layers: 18, hidden_size: 768, dataset: "stl10", modality: Modality::Image,
        task_type: "image-classification",
        classes: &["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"],
        samples: (25_000, 30_000), accuracy: (0.84, 0.92), tokenizer: None, input_size: 96,
        epoch_seconds: (60.0, 150.0),
    },
    // ---- tabular ----------------------------------------------------------
    ModelConfig {
        model: "mlp_3x256", architecture: "MLP", family: "mlp", parameters: 148_226, layers: 3,
        hidden_size: 256, dataset: "adult_income", modality: Modality::Tabular,
        task_type: "tabular-classification", classes: &["gt_50k", "le_50k"], samples: (45_000, 48_842),
        accuracy: (0.83, 0.87), tokenizer: None, input_size: 104, epoch_seconds: (4.0, 12.0),
    },
    ModelConfig {
        model: "tabnet", architecture: "TabNet", family: "attention", parameters: 471_337, layers: 4,
        hidden_size: 64, dataset: "covertype", modality: Modality::Tabular,
        task_type: "tabular-classification",
        classes: &[
            "aspen", "cottonwood_willow", "douglas_fir", "krummholz", "lodgepole_pine", "ponderosa_pine",
            "spruce_fir",
        ],
        samples: (100_000, 200_000), accuracy: (0.80, 0.88), tokenizer: None, input_size: 54,
        epoch_seconds: (20.0, 60.0),
    },
    ModelConfig {
        model: "ft_transformer", architecture: "FTTransformer", family: "transformer", parameters: 913_922,
        layers: 3, hidden_size: 192, dataset: "higgs", modality: Modality::Tabular,
        task_type: "tabular-classification", classes: &["background", "signal"],
        samples: (200_000, 500_000), accuracy: (0.72, 0.80), tokenizer: None, input_size: 28,
        epoch_seconds: (60.0, 180.0),
    },
    ModelConfig {
        model: "resnet_mlp", architecture: "TabularResNet", family: "mlp", parameters: 612_354, layers: 8,
        hidden_size: 256, dataset: "bank_marketing", modality: Modality::Tabular,
        task_type: "tabular-classification", classes: &["no", "yes"], samples: (40_000, 45_211),
        accuracy: (0.88, 0.91), tokenizer: None, input_size: 51, epoch_seconds: (3.0, 10.0),
    },
];

/// Indices into CONFIGS of the configurations a task may use.
pub fn configs_for(modalities: &[Modality]) -> Vec<u8> {
    CONFIGS
        .iter()
        .enumerate()
        .filter(|(_, c)| modalities.contains(&c.modality))
        .map(|(i, _)| i as u8)
        .collect()
}
